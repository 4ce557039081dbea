package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/webhook"
)

// WebhookTolerance is how old a webhook's signature may be: stripe-go's
// default of five minutes. An older one may be a replay.
const WebhookTolerance = webhook.DefaultTolerance

// The Stripe event types that say a refund changed; each queues a re-check of
// the refund's customer.
const (
	EventChargeRefundUpdated = "charge.refund.updated"
	EventRefundUpdated       = "refund.updated"
	EventRefundFailed        = "refund.failed"
)

// refundEvent reports whether t is one of the refund event types.
func refundEvent(t stripe.EventType) bool {
	switch t {
	case EventChargeRefundUpdated, EventRefundUpdated, EventRefundFailed:
		return true
	}
	return false
}

// ParseWebhook verifies a Stripe webhook with stripe-go's webhook package and
// returns the refund event it carries. payload must be the request body
// exactly as received and signature its Stripe-Signature header; the
// signature must be made with secret and be at most tolerance old
// (WebhookTolerance when zero). Events of an API version other than
// stripe-go's are accepted: only the refund's id, charge and status are read.
//
// ok is false for a verified event of another type, which the caller
// acknowledges and ignores. An error means the request must be refused and
// changes nothing: unsigned, signed with another secret, too old, or not a
// refund event of Stripe's shape.
func ParseWebhook(payload []byte, signature, secret string, tolerance time.Duration) (ev reconcile.RefundEvent, ok bool, err error) {
	if secret == "" {
		return ev, false, errors.New("verify stripe webhook: no signing secret configured")
	}
	if tolerance <= 0 {
		tolerance = WebhookTolerance
	}
	e, err := webhook.ConstructEventWithOptions(payload, signature, secret, webhook.ConstructEventOptions{
		Tolerance:                tolerance,
		IgnoreAPIVersionMismatch: true,
	})
	if err != nil {
		return ev, false, fmt.Errorf("verify stripe webhook: %w", err)
	}
	if !refundEvent(e.Type) {
		return reconcile.RefundEvent{ID: e.ID, Type: string(e.Type)}, false, nil
	}
	if e.Data == nil || len(e.Data.Raw) == 0 {
		return ev, false, fmt.Errorf("stripe event %s (%s) has no data object", e.ID, e.Type)
	}
	var r stripe.Refund
	if err := json.Unmarshal(e.Data.Raw, &r); err != nil {
		return ev, false, fmt.Errorf("stripe event %s (%s): data object is not a refund: %w", e.ID, e.Type, err)
	}
	if r.ID == "" || r.Object != "" && r.Object != "refund" {
		return ev, false, fmt.Errorf("stripe event %s (%s): data object is not a refund", e.ID, e.Type)
	}
	ev = reconcile.RefundEvent{
		ID:       e.ID,
		Type:     string(e.Type),
		RefundID: r.ID,
		Status:   status(r.Status),
		Created:  time.Unix(e.Created, 0).UTC(),
	}
	if r.PaymentIntent != nil {
		ev.PaymentIntentID = r.PaymentIntent.ID
	}
	if c := r.Charge; c != nil {
		ev.ChargeID = c.ID
		if c.Customer != nil { // set only when the charge came expanded
			ev.CustomerID = c.Customer.ID
		}
	}
	return ev, true, nil
}

// RefundCustomer returns the customer whose refund an event is about: the
// event's own when its charge came expanded, else the customer of its charge
// (GET /v1/charges/{id}), else that of the refund's charge looked up by the
// refund (GET /v1/refunds/{id}, charge expanded). It returns "" and no error
// for a charge without customer. An unknown charge or refund wraps
// reconcile.ErrNotFound.
func (s *Stripe) RefundCustomer(ctx context.Context, ev reconcile.RefundEvent) (string, error) {
	if ev.CustomerID != "" {
		return ev.CustomerID, nil
	}
	if ev.ChargeID != "" {
		op := "get stripe charge " + strconv.Quote(ev.ChargeID)
		c, err := s.api.Charges.Get(ev.ChargeID, &stripe.ChargeParams{Params: stripe.Params{Context: ctx}})
		if err != nil {
			return "", s.fail(op, err)
		}
		if c.Customer == nil {
			return "", nil
		}
		return c.Customer.ID, nil
	}
	if ev.RefundID == "" {
		return "", errors.New("find the customer of a refund event: no refund id")
	}
	g, err := s.Refund(ctx, ev.RefundID)
	if err != nil {
		return "", err
	}
	return g.CustomerID, nil
}
