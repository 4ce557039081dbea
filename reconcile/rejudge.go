package reconcile

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Every run judges again each unresolved case of its customer scope, also
// one whose subject lies outside its window, so that no case stays open
// after its cause is gone (the contract's "Discrepancy identity and life").
// The run fetches the subjects it did not read by direct look-ups, bounded
// by the number of open cases: the ledger rows by id, the gateway refunds
// by id.

// rejudge is what a run knows about the open cases it judges again.
type rejudge struct {
	// ledger and gateway are the subjects' ledger refund ids and (for a
	// gateway refund no ledger refund matched) gateway refund ids.
	ledger, gateway map[string]bool
	// gone are the gateway refunds the gateway no longer has.
	gone map[string]bool
}

func (j *rejudge) hasLedger(id string) bool  { return id != "" && j.ledger[id] }
func (j *rejudge) hasGateway(id string) bool { return id != "" && j.gateway[id] }

// loadRejudged fetches what the run lacks to judge open again: the ledger
// rows of its cases by id, and the gateway refunds they record or the cases
// name. It runs before matching.
func (r *Runner) loadRejudged(ctx context.Context, s *sides, open []Discrepancy) error {
	s.rejudge = rejudge{ledger: map[string]bool{}, gateway: map[string]bool{}, gone: map[string]bool{}}
	var q LedgerQuery
	for _, d := range open {
		switch subj := d.Fingerprint(); {
		case strings.HasPrefix(subj, "ledger:"):
			s.rejudge.ledger[d.LedgerRefundID] = true
			// A bounded id (an oversized or strange one, refund.go) cannot
			// be looked up: the row is judged only when the run reads it.
			if !s.ledgerHeld(d.LedgerRefundID) && !boundedForm(d.LedgerRefundID) {
				q.IDs = append(q.IDs, d.LedgerRefundID)
			}
		case strings.HasPrefix(subj, "gateway:"):
			for _, id := range d.GatewayRefundIDs {
				s.rejudge.gateway[id] = true
			}
		}
	}
	if len(q.IDs) > 0 {
		err := r.Ledger.Refunds(ctx, compactQuery(q), func(l LedgerRefund) error {
			s.addLedger(l, true)
			return nil
		})
		if err != nil {
			return fmt.Errorf("look up the ledger rows of open discrepancies: %w", err)
		}
	}
	// The gateway refunds the cases name or their ledger rows record.
	want := map[string]bool{}
	for _, d := range open {
		for _, id := range d.GatewayRefundIDs {
			want[id] = true
		}
	}
	for i := range s.ledger.len() {
		if l := s.ledger.at(i); s.rejudge.hasLedger(l.ID) && l.GatewayRefundID != "" {
			want[l.GatewayRefundID] = true
		}
	}
	for id := range want {
		if _, ok := s.gatewayIndex(id); ok {
			continue
		}
		g, err := r.Gateway.Refund(ctx, id)
		if errors.Is(err, ErrNotFound) {
			s.rejudge.gone[id] = true
			continue
		}
		if err != nil {
			return fmt.Errorf("look up gateway refund %s of an open discrepancy: %w", id, err)
		}
		s.addGateway(g)
	}
	return nil
}

// judged returns, for Decide, the subjects of open the run judged again
// and the reason each resolves if the run did not find it. [from, to] is
// the run's ledger read.
func (s *sides) judged(open []Discrepancy, from, to time.Time) map[string]string {
	out := make(map[string]string, len(open))
	var bounded map[string]bool // held rows' bounded ids, made when first needed
	for _, d := range open {
		subj := d.Fingerprint()
		switch {
		case strings.HasPrefix(subj, "ledger:"):
			switch {
			case s.ledgerHeld(d.LedgerRefundID):
				out[subj] = ReasonNoLongerFound
			case boundedForm(d.LedgerRefundID):
				// Its row's real id is not known: judged only when this
				// run read that row, never called deleted.
				if bounded == nil {
					bounded = s.heldBounded()
				}
				if bounded[d.LedgerRefundID] {
					out[subj] = ReasonNoLongerFound
				}
			default:
				out[subj] = ReasonLedgerRowDeleted
			}
		case strings.HasPrefix(subj, "gateway:"):
			if len(d.GatewayRefundIDs) != 1 {
				continue
			}
			id := d.GatewayRefundIDs[0]
			if j, ok := s.gatewayIndex(id); ok {
				if g := s.gateway.at(j); s.gatewayOfCustomer(&g) {
					out[subj] = ReasonNoLongerFound
				}
			} else if s.rejudge.gone[id] {
				out[subj] = ReasonGatewayRefundGone
			}
		case strings.HasPrefix(subj, "row:"):
			// An id-less row cannot be looked up: the run's read is the
			// look-up, so only a row that read would have returned is
			// judged (never a false all-clear for a row outside it).
			if rowRead(subj, from, to) {
				out[subj] = ReasonRowChanged
			}
		}
	}
	return out
}

// rowRead reports whether a ledger read over [from, to] (a zero from: the
// whole history) returns the id-less row of subject: one created inside it,
// or without a creation time (which belongs to every window). The row's
// creation time is the last field of its content key (classify.go).
func rowRead(subject string, from, to time.Time) bool {
	n, err := strconv.ParseInt(subject[strings.LastIndex(subject, "|")+1:], 10, 64)
	if err != nil || n == (time.Time{}).UnixNano() {
		return true
	}
	created := time.Unix(0, n)
	return (from.IsZero() || !created.Before(from)) && !created.After(to)
}

// boundedForm reports whether id is what Bounded makes of an oversized or
// strange id: at most boundedKeep bytes, "…#" and 16 hex digits.
func boundedForm(id string) bool {
	i := strings.LastIndex(id, "…#")
	if i < 0 || len(id)-i-len("…#") != 16 {
		return false
	}
	for _, c := range id[i+len("…#"):] {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// heldBounded returns the bounded ids of the held ledger rows whose id is
// oversized or strange.
func (s *sides) heldBounded() map[string]bool {
	out := map[string]bool{}
	for i := range s.ledger.len() {
		if l := s.ledger.at(i); l.ID != "" && !shortText(l.ID) {
			out[Bounded(l.ID)] = true
		}
	}
	return out
}
