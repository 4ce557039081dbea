package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

type recorder struct {
	mu      sync.Mutex
	checks  []string
	lookups []string
	// failChecks makes the first n checks fail with err.
	failChecks int
	err        error
}

func (r *recorder) resolve(_ context.Context, ev reconcile.RefundEvent) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lookups = append(r.lookups, ev.RefundID)
	switch ev.ChargeID {
	case "ch_anon":
		return "", nil
	case "ch_gone":
		return "", fmt.Errorf("get charge: %w", reconcile.ErrNotFound)
	}
	return "cus_" + ev.ChargeID[len("ch_"):], nil
}

func (r *recorder) check(_ context.Context, customer string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.checks = append(r.checks, customer)
	if r.failChecks > 0 {
		r.failChecks--
		return r.err
	}
	return nil
}

func (r *recorder) snapshot() ([]string, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.checks), slices.Clone(r.lookups)
}

func startRechecker(t *testing.T, r *recorder, cfg RecheckConfig) *Rechecker {
	cfg.Resolve, cfg.Check = r.resolve, r.check
	if cfg.Debounce == 0 {
		cfg.Debounce = 50 * time.Millisecond
	}
	if cfg.RetryAfter == 0 {
		cfg.RetryAfter = 30 * time.Millisecond
	}
	q := NewRechecker(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		q.Run(ctx)
		close(done)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return q
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A burst of events about one customer's refunds makes one check.
func TestRecheckCoalesces(t *testing.T) {
	r := &recorder{}
	q := startRechecker(t, r, RecheckConfig{Debounce: 150 * time.Millisecond})
	for _, ev := range []reconcile.RefundEvent{
		{ID: "evt_1", Type: "charge.refund.updated", RefundID: "re_1", ChargeID: "ch_1"},
		{ID: "evt_2", Type: "refund.updated", RefundID: "re_1", ChargeID: "ch_1"},
		{ID: "evt_3", Type: "refund.failed", RefundID: "re_2", ChargeID: "ch_1"},
		{ID: "evt_4", Type: "refund.updated", RefundID: "re_9", CustomerID: "cus_1"},
		{ID: "evt_5", Type: "refund.updated", RefundID: "re_7", ChargeID: "ch_7"},
	} {
		if !q.Enqueue(ev) {
			t.Fatal("queue full")
		}
	}
	eventually(t, "two checks", func() bool { c, _ := r.snapshot(); return len(c) >= 2 })
	time.Sleep(300 * time.Millisecond)
	checks, lookups := r.snapshot()
	slices.Sort(checks)
	if !slices.Equal(checks, []string{"cus_1", "cus_7"}) {
		t.Fatalf("checks %v, want one per customer", checks)
	}
	if len(lookups) != 3 { // re_1 (twice coalesced), re_2, re_7; re_9 carried its customer
		t.Fatalf("lookups %v", lookups)
	}
}

// A check that another reconciliation holds up is tried again, not lost.
func TestRecheckRetriesWhileLocked(t *testing.T) {
	r := &recorder{failChecks: 3, err: fmt.Errorf("lock: %w", reconcile.ErrLocked)}
	q := startRechecker(t, r, RecheckConfig{MaxAttempts: 2})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", CustomerID: "cus_1"})
	eventually(t, "the check to get through", func() bool { c, _ := r.snapshot(); return len(c) == 4 })
	time.Sleep(100 * time.Millisecond)
	if c, _ := r.snapshot(); len(c) != 4 {
		t.Fatalf("checks %v: want 3 held up and 1 through", c)
	}

	// Other errors are tried MaxAttempts times.
	r2 := &recorder{failChecks: 100, err: errors.New("stripe answered 500")}
	q2 := startRechecker(t, r2, RecheckConfig{MaxAttempts: 3})
	q2.Enqueue(reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", CustomerID: "cus_1"})
	eventually(t, "three attempts", func() bool { c, _ := r2.snapshot(); return len(c) >= 3 })
	time.Sleep(150 * time.Millisecond)
	if c, _ := r2.snapshot(); len(c) != 3 {
		t.Fatalf("%d attempts, want 3", len(c))
	}
}

func TestRecheckWithoutCustomer(t *testing.T) {
	r := &recorder{}
	q := startRechecker(t, r, RecheckConfig{})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", ChargeID: "ch_anon"})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_2", RefundID: "re_2", ChargeID: "ch_gone"})
	eventually(t, "the look-ups", func() bool { _, l := r.snapshot(); return len(l) == 2 })
	time.Sleep(100 * time.Millisecond)
	if c, l := r.snapshot(); len(c) != 0 || len(l) != 2 {
		t.Fatalf("checks %v lookups %v", c, l)
	}
}

func TestRecheckQueueBounded(t *testing.T) {
	q := NewRechecker(RecheckConfig{QueueSize: 2})
	ev := reconcile.RefundEvent{RefundID: "re_1", CustomerID: "cus_1"}
	var took []bool
	for range 3 {
		took = append(took, q.Enqueue(ev))
	}
	if !slices.Equal(took, []bool{true, true, false}) {
		t.Fatalf("a queue of two answered %v to three events", took)
	}
}
