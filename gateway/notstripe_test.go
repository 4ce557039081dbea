package gateway

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// TestProxyPagesAreNotStripeAnswers: through the real stripe-go client over
// HTTP, a proxy's HTML 404 or 502 in front of Stripe is a failed request —
// retried, then an error that is never reconcile.ErrNotFound — while
// Stripe's own 404 (resource_missing) still means "no such refund".
func TestProxyPagesAreNotStripeAnswers(t *testing.T) {
	f, srv := fake(t)
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_1", Amount: 500, Created: day0}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 500, Status: "failed", Created: day0}))
	s, _ := testGateway(t, srv.URL, func(c *Config) {
		c.MaxAttempts = 3
		c.retryWait = func(int, time.Duration) time.Duration { return time.Millisecond }
	})
	ctx := context.Background()

	// Stripe's own answer keeps its meaning.
	if _, err := s.Refund(ctx, "re_nope"); !errors.Is(err, reconcile.ErrNotFound) {
		t.Fatalf("stripe's 404: %v, want ErrNotFound", err)
	}

	for _, status := range []int{404, 502} {
		// Persistent: every attempt gets the page.
		f.ResetRequests()
		f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds/re_1", HTML: true, Status: status, Count: 3})
		_, err := s.Refund(ctx, "re_1")
		if err == nil || errors.Is(err, reconcile.ErrNotFound) {
			t.Fatalf("HTML %d: %v, want a failed request, not ErrNotFound", status, err)
		}
		if strings.Contains(err.Error(), "<") || !strings.Contains(err.Error(), "without a Stripe error body") {
			t.Errorf("HTML %d: %q should say the answer was not Stripe's, without the page", status, err)
		}
		if n := len(f.Requests()); n != 3 {
			t.Errorf("HTML %d: %d attempts, want 3 (retried like a 5xx)", status, n)
		}
		// Listings too: a charge's refunds behind a proxy 404 page.
		f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", HTML: true, Status: status, Count: 3})
		if _, err := s.ChargeRefunds(ctx, "ch_1"); err == nil || errors.Is(err, reconcile.ErrNotFound) {
			t.Errorf("charge refunds behind HTML %d: %v, want a failed request", status, err)
		}
		// Transient: retried until Stripe answers.
		f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds/re_1", HTML: true, Status: status, Count: 2})
		g, err := s.Refund(ctx, "re_1")
		if err != nil || g.Status != reconcile.RefundFailed {
			t.Errorf("HTML %d twice then Stripe: %+v, %v; want the refund", status, g, err)
		}
	}
}
