package gateway

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
)

var _ reconcile.ChangeSource = (*Stripe)(nil)

// RefundEventTypes are the events whose refunds an incremental sync reads.
var RefundEventTypes = []string{"refund.created", "refund.updated", "refund.failed", "charge.refund.updated", "charge.refunded"}

// RefundEventsSince lists the events of RefundEventTypes created at or
// after since (GET /v1/events, types[] and created[gte]) and calls fn with
// the refunds they carry, oldest state first.
//
// A refund event carries the refund as it was then (its charge not
// expanded: no customer); only the newest copy of each refund is passed.
// A charge.refunded event carries the charge: unless an event of one of its
// refunds came too, or the charge embeds all its refunds, the charge's
// refunds are looked up, and passed last, being the current state.
func (s *Stripe) RefundEventsSince(ctx context.Context, since time.Time, fn func(reconcile.GatewayRefund) error) error {
	const op = "list stripe refund events"
	p := &stripe.EventListParams{
		ListParams:   stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)},
		CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: max(since.Unix(), 1)},
	}
	for _, t := range RefundEventTypes {
		p.Types = append(p.Types, stripe.String(t))
	}
	type snapshot struct {
		r reconcile.GatewayRefund
		n int // position in the listing: newest first
	}
	newest := map[string]snapshot{}
	chargesSeen := map[string]bool{} // charges one of whose refunds an event carried
	var charges []string             // charges of charge.refunded events, to look up
	n := 0
	err := each(s.api.Events.List(p).Iter, "events",
		func(l stripe.ListContainer) []*stripe.Event { return l.(*stripe.EventList).Data },
		func(e *stripe.Event) string { return e.ID },
		func(e *stripe.Event) error {
			n++
			if e.Data == nil || len(e.Data.Raw) == 0 {
				return fmt.Errorf("event %s has no object", e.ID)
			}
			var head struct {
				Object string `json:"object"`
			}
			if err := json.Unmarshal(e.Data.Raw, &head); err != nil {
				return fmt.Errorf("event %s: %w", e.ID, err)
			}
			switch head.Object {
			case "refund":
				var r stripe.Refund
				if err := json.Unmarshal(e.Data.Raw, &r); err != nil {
					return fmt.Errorf("event %s: %w", e.ID, err)
				}
				g, err := s.convert(&r)
				if err != nil {
					return fmt.Errorf("event %s: %w", e.ID, err)
				}
				if g.ChargeID != "" {
					chargesSeen[g.ChargeID] = true
				}
				if _, ok := newest[g.ID]; !ok { // the listing is newest first
					newest[g.ID] = snapshot{r: g, n: n}
				}
			case "charge":
				var c stripe.Charge
				if err := json.Unmarshal(e.Data.Raw, &c); err != nil {
					return fmt.Errorf("event %s: %w", e.ID, err)
				}
				if c.ID == "" {
					return fmt.Errorf("event %s: charge without id", e.ID)
				}
				if c.Refunds != nil && c.Refunds.Data != nil && !c.Refunds.HasMore {
					for _, r := range c.Refunds.Data {
						if r.Charge == nil {
							r.Charge = &c
						}
						g, err := s.convert(r)
						if err != nil {
							return fmt.Errorf("event %s: %w", e.ID, err)
						}
						if _, ok := newest[g.ID]; !ok {
							newest[g.ID] = snapshot{r: g, n: n}
						}
					}
					chargesSeen[c.ID] = true
					return nil
				}
				if !slices.Contains(charges, c.ID) {
					charges = append(charges, c.ID)
				}
			}
			return nil
		})
	if err != nil {
		return s.fail(op, err)
	}
	snaps := make([]snapshot, 0, len(newest))
	for _, sn := range newest {
		snaps = append(snaps, sn)
	}
	// Oldest first: the listing's order reversed.
	slices.SortFunc(snaps, func(a, b snapshot) int { return b.n - a.n })
	for _, sn := range snaps {
		if err := fn(sn.r); err != nil {
			return err
		}
	}
	for _, c := range charges {
		if chargesSeen[c] {
			continue
		}
		rs, err := s.ChargeRefunds(ctx, c)
		if err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		for _, r := range rs {
			if err := fn(r); err != nil {
				return err
			}
		}
	}
	return nil
}
