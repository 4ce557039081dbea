package reconcile

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
)

// slowGateway holds every ChargeRefunds call until overlap calls have run at
// once, counting how many calls overlap; it is safe for concurrent use.
// Holding on that condition rather than for a pause keeps the count true on
// a loaded machine, where a short pause could end before the next worker
// even started.
type slowGateway struct {
	Gateway // only ChargeRefunds is called
	overlap int32
	fail    string
	running atomic.Int32
	most    atomic.Int32
	reached chan struct{}
	once    sync.Once
	mu      sync.Mutex
	seen    []string
}

func newSlowGateway(overlap int, fail string) *slowGateway {
	return &slowGateway{overlap: int32(overlap), fail: fail, reached: make(chan struct{})}
}

func (g *slowGateway) ChargeRefunds(ctx context.Context, ch string) ([]GatewayRefund, error) {
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for m := g.most.Load(); n > m && !g.most.CompareAndSwap(m, n); m = g.most.Load() {
	}
	if g.most.Load() >= g.overlap {
		g.once.Do(func() { close(g.reached) })
	}
	g.mu.Lock()
	g.seen = append(g.seen, ch)
	g.mu.Unlock()
	select {
	case <-g.reached:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if ch == g.fail {
		return nil, errors.New("stripe answered 500")
	}
	return []GatewayRefund{{ID: "re_" + ch, ChargeID: ch}, {ID: "re_" + ch + "_2", ChargeID: ch}}, nil
}

func TestChargesRefunds(t *testing.T) {
	ids := make([]string, 20)
	for i := range ids {
		ids[i] = fmt.Sprintf("ch_%02d", i)
	}
	for _, conc := range []int{0, 1, 4} {
		g := newSlowGateway(max(conc, 1), "")
		r := &Runner{Gateway: g, ChargeConcurrency: conc}
		lists, err := r.chargesRefunds(context.Background(), ids)
		if err != nil {
			t.Fatal(err)
		}
		for i, l := range lists {
			if len(l) != 2 || l[0].ChargeID != ids[i] {
				t.Fatalf("concurrency %d: list %d is %v: order lost", conc, i, l)
			}
		}
		if want := int32(max(conc, 1)); g.most.Load() != want {
			t.Errorf("concurrency %d: %d calls at once, want %d", conc, g.most.Load(), want)
		}
	}

	g := newSlowGateway(4, "ch_03")
	r := &Runner{Gateway: g, ChargeConcurrency: 4}
	_, err := r.chargesRefunds(context.Background(), ids)
	if err == nil || err.Error() != "list refunds of charge ch_03: stripe answered 500" {
		t.Fatalf("error %v, want the failing charge's", err)
	}
	if len(g.seen) == len(ids) {
		t.Errorf("the first error did not stop the rest: %d of %d listed", len(g.seen), len(ids))
	}
}

// goneGateway answers Stripe's own 404 for one charge's refunds.
type goneGateway struct {
	Gateway
	gone string
}

func (g *goneGateway) ChargeRefunds(_ context.Context, ch string) ([]GatewayRefund, error) {
	if ch == g.gone {
		return nil, fmt.Errorf("list stripe refunds of charge %q: %w (stripe answered 404 invalid_request_error/resource_missing)", ch, ErrNotFound)
	}
	return []GatewayRefund{{ID: "re_" + ch, ChargeID: ch}}, nil
}

// TestChargesRefundsChargeNotFound: a customer check copes with a charge
// Stripe does not know, as a window run's confirmMissing does: nothing of
// it was refunded; the other charges still count.
func TestChargesRefundsChargeNotFound(t *testing.T) {
	r := &Runner{Gateway: &goneGateway{gone: "ch_b"}, ChargeConcurrency: 2}
	lists, err := r.chargesRefunds(context.Background(), []string{"ch_a", "ch_b", "ch_c"})
	if err != nil {
		t.Fatalf("a charge Stripe does not know failed the check: %v", err)
	}
	if len(lists) != 3 || len(lists[0]) != 1 || len(lists[1]) != 0 || len(lists[2]) != 1 {
		t.Fatalf("lists %v, want the unknown charge empty and the others listed", lists)
	}
}
