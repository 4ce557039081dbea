package gateway

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

func eventsSince(t *testing.T, s *Stripe, since time.Time) []reconcile.GatewayRefund {
	t.Helper()
	var out []reconcile.GatewayRefund
	must(t, s.RefundEventsSince(context.Background(), since, func(g reconcile.GatewayRefund) error {
		out = append(out, g)
		return nil
	}))
	return out
}

// TestRefundEventsSince reads refund events through stripe-go: the types and
// created filter asked for, one newest copy per refund, status, failure and
// metadata as the event carries them.
func TestRefundEventsSince(t *testing.T) {
	f, srv := fake(t)
	f.SetCreateEvents(true)
	ids := seed(t, f, "e", day0, 3) // refund.created at day0, +1s, +2s
	t1 := day0.Add(time.Hour)
	must(t, f.FailRefund(ids[0], "declined", t1))
	must(t, f.SetRefundMetadata(ids[1], map[string]string{"ledger_refund_id": "L-9"}, t1.Add(time.Second)))
	must(t, f.SetRefundMetadata(ids[1], map[string]string{"ledger_refund_id": "L-10"}, t1.Add(2*time.Second)))
	s, _ := testGateway(t, srv.URL, nil)

	f.ResetRequests()
	got := eventsSince(t, s, t1)
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/events" || reqs[0].Query.Get("created[gte]") != "1709254800" {
		t.Fatalf("requests: %+v", reqs)
	}
	var types []string
	for i := range 5 {
		types = append(types, reqs[0].Query.Get(fmt.Sprintf("types[%d]", i)))
	}
	slices.Sort(types)
	if want := []string{"charge.refund.updated", "charge.refunded", "refund.created", "refund.failed", "refund.updated"}; !slices.Equal(types, want) {
		t.Fatalf("types = %v, want %v", types, want)
	}
	if len(got) != 2 {
		t.Fatalf("got %d refunds, want 2 (one per refund changed since t1): %+v", len(got), got)
	}
	// Oldest first: the failure, then the second metadata change.
	if g := got[0]; g.ID != ids[0] || g.Status != reconcile.RefundFailed || g.FailureReason != "declined" || g.ChargeID != "ch_e_0" || g.Amount != 100 {
		t.Errorf("failed refund from its event: %+v", g)
	}
	if g := got[1]; g.ID != ids[1] || g.LedgerRefundID != "L-10" || g.Status != reconcile.RefundSucceeded {
		t.Errorf("metadata from the newest event: %+v", g)
	}
	// From day0 the creations come too, three refunds in all.
	if got := eventsSince(t, s, day0); len(got) != 3 {
		t.Fatalf("since day0: %d refunds, want 3", len(got))
	}
	// With events off, a failure leaves no event.
	f.SetEvents(false)
	must(t, f.FailRefund(ids[2], "", t1.Add(time.Hour)))
	if got := eventsSince(t, s, t1.Add(time.Hour)); len(got) != 0 {
		t.Fatalf("events off: %+v", got)
	}
}

// TestRefundEventsSinceFault: an error answer fails the listing.
func TestRefundEventsSinceFault(t *testing.T) {
	f, srv := fake(t)
	s, _ := testGateway(t, srv.URL, func(c *Config) { c.MaxAttempts = 1 })
	f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/events", Status: 500})
	err := s.RefundEventsSince(context.Background(), day0, func(reconcile.GatewayRefund) error { return nil })
	if err == nil {
		t.Fatal("a 500 on /v1/events did not fail the listing")
	}
}
