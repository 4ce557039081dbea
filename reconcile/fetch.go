package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"
)

// fetchGateway reads the gateway side of the scope.
func (r *Runner) fetchGateway(ctx context.Context, s *sides, from, to time.Time) error {
	scope := s.scope
	add := func(g GatewayRefund) error {
		s.addGateway(g)
		r.progress(Progress{Phase: PhaseGateway, LedgerRefunds: s.ledger.len(), GatewayRefunds: s.gateway.len()})
		return nil
	}
	if scope.CustomerID == "" {
		if err := r.Gateway.Refunds(ctx, from, to, add); err != nil {
			return fmt.Errorf("list gateway refunds: %w", err)
		}
	} else {
		// A customer's refunds: those of every charge of theirs (listed
		// with their refunds in one go) and of every charge their ledger
		// rows name, whatever the status (a charge whose refund failed
		// shows nothing refunded).
		charges, refunds, err := r.Gateway.CustomerRefunds(ctx, scope.CustomerID)
		if err != nil {
			return fmt.Errorf("list customer charges: %w", err)
		}
		if len(charges) == 0 && s.ledger.len() == 0 && s.openCases == 0 {
			// Not "no problem found": nothing of this customer exists.
			return fmt.Errorf("customer %s: no charges at the gateway and no ledger refunds: %w", scope.CustomerID, ErrNothingFound)
		}
		s.customerCharges = make(map[string]bool, len(charges))
		for _, c := range charges {
			s.customerCharges[c] = true
		}
		for _, g := range refunds {
			s.addGateway(g)
		}
		var intents []string
		named := map[string]bool{}
		for _, l := range s.ledger.all() {
			// A value that cannot be a Stripe id (oversized, not text) makes
			// its row invalid; it is never sent to Stripe.
			if l.ChargeID != "" && shortText(l.ChargeID) {
				named[l.ChargeID] = true
			} else if l.PaymentIntentID != "" && shortText(l.PaymentIntentID) && !slices.Contains(intents, l.PaymentIntentID) {
				intents = append(intents, l.PaymentIntentID)
			}
		}
		var others []string
		for c := range named {
			if !s.customerCharges[c] {
				others = append(others, c)
			}
		}
		slices.Sort(others)
		lists, err := r.chargesRefunds(ctx, others)
		if err != nil {
			return err
		}
		for _, refunds := range lists {
			for _, g := range refunds {
				s.addGateway(g)
			}
		}
		for _, pi := range intents {
			refunds, err := r.Gateway.PaymentIntentRefunds(ctx, pi)
			if errors.Is(err, ErrNotFound) {
				continue // no such payment intent: nothing refunded
			}
			if err != nil {
				return fmt.Errorf("list refunds of payment intent %s: %w", pi, err)
			}
			for _, g := range refunds {
				s.addGateway(g)
			}
		}
	}

	// Refunds the gateway failed inside the window, however old: Stripe
	// keeps refund_failure balance transactions for good. A whole-history
	// check sweeps from its oldest failed refund, to say when each failed.
	sweepFrom := scope.Since
	if sweepFrom.IsZero() {
		for _, g := range s.gateway.all() {
			if g.Status == RefundFailed && (sweepFrom.IsZero() || g.Created.Before(sweepFrom)) {
				sweepFrom = g.Created
			}
		}
	}
	if !sweepFrom.IsZero() {
		var failures []RefundFailure
		err := r.Gateway.RefundFailures(ctx, sweepFrom, scope.Until, func(f RefundFailure) error {
			failures = append(failures, f)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list refund failures: %w", err)
		}
		for _, f := range failures {
			j, ok := s.gatewayIndex(f.RefundID)
			if !ok {
				if scope.CustomerID != "" {
					continue // not a refund of this customer's charges
				}
				g, err := r.Gateway.Refund(ctx, f.RefundID)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return fmt.Errorf("look up failed refund %s: %w", f.RefundID, err)
				}
				s.addGateway(g)
				j, _ = s.gatewayIndex(g.ID)
			} else if held := s.gateway.at(j); held.Status != RefundFailed {
				// The gateway says it failed, but what the run holds (a
				// copy kept between runs, say) does not: ask for the
				// refund as it is now, never judge the stale one.
				g, err := r.Gateway.Refund(ctx, f.RefundID)
				if err != nil && !errors.Is(err, ErrNotFound) {
					return fmt.Errorf("look up failed refund %s: %w", f.RefundID, err)
				}
				if err == nil {
					g.FailedAt = held.FailedAt
					s.gateway.replace(j, g)
				}
			}
			if g := s.gateway.at(j); f.FailedAt.After(g.FailedAt) {
				s.gateway.setFailedAt(j, f.FailedAt)
			}
		}
	}

	// Every recorded gateway refund id the listing did not return is looked
	// up directly: a refund created before the window is not missing.
	looked := map[string]bool{}
	for i := 0; i < s.ledger.len(); i++ {
		l := s.ledger.at(i)
		id := l.GatewayRefundID
		if id == "" || looked[id] || !shortText(id) || !l.inWindow(scope) {
			continue
		}
		if _, ok := s.gatewayIndex(id); ok {
			continue
		}
		looked[id] = true
		g, err := r.Gateway.Refund(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up gateway refund %s: %w", id, err)
		}
		s.addGateway(g)
	}
	return nil
}

// confirmMissing looks up the refunds of the charge or payment intent of
// every in-scope ledger refund that would be missing_at_gateway. It reports
// whether it found refunds the run did not hold.
func (r *Runner) confirmMissing(ctx context.Context, s *sides, m matching, now time.Time) (bool, error) {
	added := false
	lookedCharge, lookedIntent := map[string]bool{}, map[string]bool{}
	for i := range s.ledger.len() {
		if len(m.of(i)) > 0 {
			continue
		}
		lv := s.ledger.at(i)
		l := &lv
		if l.Status != LedgerComplete || now.Sub(l.CompletedAt) <= r.Rules.Grace ||
			!s.ledgerInScope(l, nil) || len(l.Problems(r.Rules.ValidCurrency)) > 0 {
			continue
		}
		var refunds []GatewayRefund
		var err error
		switch {
		case l.ChargeID != "":
			if lookedCharge[l.ChargeID] {
				continue
			}
			lookedCharge[l.ChargeID] = true
			refunds, err = r.Gateway.ChargeRefunds(ctx, l.ChargeID)
		case l.PaymentIntentID != "":
			if lookedIntent[l.PaymentIntentID] {
				continue
			}
			lookedIntent[l.PaymentIntentID] = true
			refunds, err = r.Gateway.PaymentIntentRefunds(ctx, l.PaymentIntentID)
		default:
			continue
		}
		if errors.Is(err, ErrNotFound) {
			continue // the charge itself does not exist: nothing was refunded
		}
		if err != nil {
			return added, fmt.Errorf("confirm refund %s missing at gateway: %w", l.ID, err)
		}
		for _, g := range refunds {
			if s.addGateway(g) {
				added = true
			}
		}
	}
	return added, nil
}
