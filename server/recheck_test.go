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

// fakeClock is the Rechecker's time in tests: it moves only when the test
// advances it, and tells the test when the worker waits on a timer.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
	armed  chan struct{} // a timer was set
}

type fakeTimer struct {
	at     time.Time
	c      chan time.Time
	active bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC), armed: make(chan struct{}, 1000)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{at: c.now.Add(d), c: make(chan time.Time, 1), active: true}
	if d <= 0 {
		t.c <- c.now
		t.active = false
	} else {
		c.timers = append(c.timers, t)
		c.armed <- struct{}{}
	}
	return t.c, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		was := t.active
		t.active = false
		return was
	}
}

// advance moves the time by d and fires the timers due.
func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
	kept := c.timers[:0]
	for _, t := range c.timers {
		switch {
		case !t.active:
		case !t.at.After(c.now):
			t.active = false
			t.c <- c.now
		default:
			kept = append(kept, t)
		}
	}
	c.timers = kept
}

// fire waits until the worker waits on a timer and moves the time to it.
func (c *fakeClock) fire(t *testing.T) {
	t.Helper()
	deadline := nearDeadline(t)
	for {
		c.mu.Lock()
		var next *fakeTimer
		for _, x := range c.timers {
			if x.active && (next == nil || x.at.Before(next.at)) {
				next = x
			}
		}
		c.mu.Unlock()
		if next != nil {
			c.advance(next.at.Sub(c.Now()))
			return
		}
		select {
		case <-c.armed:
		case <-deadline:
			t.Fatal("the worker never waited on a timer")
		}
	}
}

type recorder struct {
	mu      sync.Mutex
	checks  []string
	lookups []string
	checked chan string
	// failChecks makes the first n checks fail with err.
	failChecks int
	err        error
	// hold, when set, makes a check wait for it (or its context).
	hold chan struct{}
}

func newRecorder() *recorder { return &recorder{checked: make(chan string, 10000)} }

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

func (r *recorder) check(ctx context.Context, customer string) (err error) {
	defer func() { r.checked <- customer }()
	if r.hold != nil {
		select {
		case <-r.hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
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

// waitCheck waits for the next check to end and returns its customer.
func (r *recorder) waitCheck(t *testing.T) string {
	t.Helper()
	select {
	case c := <-r.checked:
		return c
	case <-nearDeadline(t):
		t.Fatal("no check came")
		return ""
	}
}

const (
	testDebounce = 2 * time.Second
	testRetry    = 30 * time.Second
)

func newTestRechecker(r *recorder, clock *fakeClock, cfg RecheckConfig) *Rechecker {
	cfg.Resolve, cfg.Check, cfg.Clock = r.resolve, r.check, clock
	cfg.Debounce, cfg.RetryAfter = testDebounce, testRetry
	return NewRechecker(cfg)
}

// start runs q's worker until the test ends; the returned channel closes
// when Run returns.
func start(t *testing.T, q *Rechecker) (context.CancelFunc, <-chan struct{}) {
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
	return cancel, done
}

// barrier proves the worker has nothing more due before a point: it queues
// a sentinel customer due after everything else and waits for its check;
// the worker takes the earliest due first, so every check that was due
// before came before it. It returns the checks before the sentinel.
func barrier(t *testing.T, q *Rechecker, r *recorder, clock *fakeClock) []string {
	t.Helper()
	if got := q.Enqueue(reconcile.RefundEvent{ID: "evt_sentinel_" + clock.Now().String(), RefundID: "re_s", CustomerID: "cus_sentinel"}); got != Queued {
		t.Fatalf("sentinel %s", got)
	}
	clock.advance(testDebounce)
	var before []string
	for {
		c := r.waitCheck(t)
		if c == "cus_sentinel" {
			return before
		}
		before = append(before, c)
	}
}

// A burst of events about one customer's refunds makes one check; events
// about one charge make one customer look-up.
func TestRecheckCoalescesByCustomerAndCharge(t *testing.T) {
	r, clock := newRecorder(), newFakeClock()
	q := newTestRechecker(r, clock, RecheckConfig{})
	for _, ev := range []reconcile.RefundEvent{
		{ID: "evt_1", Type: "charge.refund.updated", RefundID: "re_1", ChargeID: "ch_1"},
		{ID: "evt_2", Type: "refund.updated", RefundID: "re_1", ChargeID: "ch_1"},
		{ID: "evt_3", Type: "refund.failed", RefundID: "re_2", ChargeID: "ch_1"},
		{ID: "evt_4", Type: "refund.updated", RefundID: "re_9", CustomerID: "cus_1"},
		{ID: "evt_5", Type: "refund.updated", RefundID: "re_7", ChargeID: "ch_7"},
	} {
		if got := q.Enqueue(ev); got == Dropped || got == Duplicate {
			t.Fatalf("%s: %s", ev.ID, got)
		}
	}
	if q.Pending() != 3 {
		t.Fatalf("%d pending, want 3 (cus_1, ch_1, ch_7)", q.Pending())
	}
	start(t, q)
	checks := barrier(t, q, r, clock)
	slices.Sort(checks)
	if !slices.Equal(checks, []string{"cus_1", "cus_7"}) {
		t.Fatalf("checks %v, want one per customer", checks)
	}
	if _, lookups := r.snapshot(); len(lookups) != 2 { // ch_1 once for re_1, re_1, re_2; ch_7; re_9 carried its customer
		t.Fatalf("lookups %v", lookups)
	}
}

// The same Stripe event (same id) delivered twice triggers one re-check,
// also when the second delivery comes after the check; the ids remembered
// are bounded.
func TestRecheckSameEventOnce(t *testing.T) {
	r, clock := newRecorder(), newFakeClock()
	q := newTestRechecker(r, clock, RecheckConfig{RecentEvents: 3})
	ev := reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", CustomerID: "cus_1"}
	if got := q.Enqueue(ev); got != Queued {
		t.Fatalf("first delivery: %s", got)
	}
	if got := q.Enqueue(ev); got != Duplicate {
		t.Fatalf("second delivery: %s", got)
	}
	start(t, q)
	if checks := barrier(t, q, r, clock); !slices.Equal(checks, []string{"cus_1"}) {
		t.Fatalf("checks %v", checks)
	}
	if got := q.Enqueue(ev); got != Duplicate {
		t.Fatalf("a delivery after the check: %s", got)
	}
	// Bounded memory: three ids later (the sentinel was one), evt_1 is
	// forgotten.
	for _, id := range []string{"evt_2", "evt_3"} {
		q.Enqueue(reconcile.RefundEvent{ID: id, RefundID: "re_2", CustomerID: "cus_2"})
	}
	if len(q.recent.set) > 3 {
		t.Fatalf("%d ids remembered, want at most 3", len(q.recent.set))
	}
	if got := q.Enqueue(ev); got != Queued {
		t.Fatalf("an id beyond the remembered ones: %s", got)
	}
}

// A flood about many customers fills the bounded queue and is dropped; a
// flood about few customers takes no room. A dropped event is not
// remembered: Stripe's redelivery is taken once there is room.
func TestRecheckQueueBounded(t *testing.T) {
	r, clock := newRecorder(), newFakeClock()
	q := newTestRechecker(r, clock, RecheckConfig{QueueSize: 100})
	counts := map[Enqueued]int{}
	for i := range 20000 {
		counts[q.Enqueue(reconcile.RefundEvent{ID: fmt.Sprintf("evt_%d", i), RefundID: fmt.Sprintf("re_%d", i), CustomerID: fmt.Sprintf("cus_%d", i%1000)})]++
	}
	if q.Pending() != 100 || counts[Queued] != 100 || counts[Coalesced] != 1900 || counts[Dropped] != 18000 {
		t.Fatalf("pending %d, outcomes %v", q.Pending(), counts)
	}
	dropped := reconcile.RefundEvent{ID: "evt_late", RefundID: "re_late", CustomerID: "cus_late"}
	if got := q.Enqueue(dropped); got != Dropped {
		t.Fatalf("full queue: %s", got)
	}
	start(t, q)
	clock.fire(t)
	for range 100 {
		r.waitCheck(t)
	}
	if got := q.Enqueue(dropped); got != Queued {
		t.Fatalf("redelivery of a dropped event: %s", got)
	}
	if checks := barrier(t, q, r, clock); len(checks) != 1 || checks[0] != "cus_late" {
		t.Fatalf("checks after the flood: %v", checks)
	}
	if c, _ := r.snapshot(); len(c) != 102 {
		t.Fatalf("%d checks, want 100 + cus_late + the sentinel", len(c))
	}
}

// A check that another reconciliation holds up is tried again, not lost;
// other errors are tried MaxAttempts times.
func TestRecheckRetriesWhileLocked(t *testing.T) {
	r, clock := newRecorder(), newFakeClock()
	r.failChecks, r.err = 3, fmt.Errorf("lock: %w", reconcile.ErrLocked)
	q := newTestRechecker(r, clock, RecheckConfig{MaxAttempts: 2})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", CustomerID: "cus_1"})
	start(t, q)
	clock.fire(t)
	for range 3 { // held up: tried again after RetryAfter
		r.waitCheck(t)
		clock.fire(t)
	}
	r.waitCheck(t)
	if checks := barrier(t, q, r, clock); len(checks) != 0 {
		t.Fatalf("checks after the one that got through: %v", checks)
	}
	if c, _ := r.snapshot(); len(c) != 5 {
		t.Fatalf("checks %v: want 3 held up, 1 through, the sentinel", c)
	}

	r2, clock2 := newRecorder(), newFakeClock()
	r2.failChecks, r2.err = 100, errors.New("stripe answered 500")
	q2 := newTestRechecker(r2, clock2, RecheckConfig{MaxAttempts: 3})
	q2.Enqueue(reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", CustomerID: "cus_1"})
	start(t, q2)
	clock2.fire(t)
	r2.waitCheck(t)
	for range 2 {
		clock2.fire(t)
		r2.waitCheck(t)
	}
	r2.mu.Lock()
	r2.failChecks = 0
	r2.mu.Unlock()
	// A fourth try would be due before the sentinel (RetryAfter < the
	// sentinel's debounce after it): none comes.
	clock2.advance(testRetry)
	if checks := barrier(t, q2, r2, clock2); len(checks) != 0 {
		t.Fatalf("tries after the third: %v", checks)
	}
}

func TestRecheckWithoutCustomer(t *testing.T) {
	r, clock := newRecorder(), newFakeClock()
	q := newTestRechecker(r, clock, RecheckConfig{})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", ChargeID: "ch_anon"})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_2", RefundID: "re_2", ChargeID: "ch_gone"})
	start(t, q)
	if checks := barrier(t, q, r, clock); len(checks) != 0 {
		t.Fatalf("checks %v", checks)
	}
	if _, l := r.snapshot(); len(l) != 2 {
		t.Fatalf("lookups %v", l)
	}
}

// Stop after a burst: the check in flight finishes, nothing more is taken
// (the rest is dropped for the nightly run), new events are refused, and
// Run returns at once however many wait.
func TestRecheckStopFinishesTheCheckInFlight(t *testing.T) {
	r, clock := newRecorder(), newFakeClock()
	r.hold = make(chan struct{})
	q := newTestRechecker(r, clock, RecheckConfig{QueueSize: 5000})
	for i := range 5000 {
		q.Enqueue(reconcile.RefundEvent{ID: fmt.Sprintf("evt_%d", i), RefundID: fmt.Sprintf("re_%d", i), CustomerID: fmt.Sprintf("cus_%d", i)})
	}
	_, done := start(t, q)
	clock.fire(t)
	// The first check is in flight (held); stop now.
	for q.Pending() == 5000 {
		select {
		case <-done:
			t.Fatal("Run returned before stopping")
		case <-time.After(time.Millisecond):
		}
	}
	q.Stop()
	if got := q.Enqueue(reconcile.RefundEvent{ID: "evt_new", RefundID: "re_new", CustomerID: "cus_new"}); got != Dropped {
		t.Fatalf("an event after Stop: %s", got)
	}
	select {
	case <-done:
		t.Fatal("Run returned while a check was in flight")
	default:
	}
	close(r.hold)
	select {
	case <-done:
	case <-nearDeadline(t):
		t.Fatal("Run did not return after Stop")
	}
	if c, _ := r.snapshot(); len(c) != 1 {
		t.Fatalf("%d checks after Stop, want only the one in flight", len(c))
	}
}

// Cancelling Run's context cancels the check in flight and returns.
func TestRecheckCancelEndsTheCheckInFlight(t *testing.T) {
	r, clock := newRecorder(), newFakeClock()
	r.hold = make(chan struct{}) // never released
	q := newTestRechecker(r, clock, RecheckConfig{})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_1", RefundID: "re_1", CustomerID: "cus_1"})
	q.Enqueue(reconcile.RefundEvent{ID: "evt_2", RefundID: "re_2", CustomerID: "cus_2"})
	cancel, done := start(t, q)
	clock.fire(t)
	for q.Pending() == 2 {
		select {
		case <-done:
			t.Fatal("Run returned early")
		case <-time.After(time.Millisecond):
		}
	}
	q.Stop()
	cancel()
	select {
	case <-done:
	case <-nearDeadline(t):
		t.Fatal("Run did not return after its context ended")
	}
	if got := r.waitCheck(t); got != "cus_1" && got != "cus_2" {
		t.Fatalf("check %q", got)
	}
	select {
	case c := <-r.checked:
		t.Fatalf("a second check %q after cancel", c)
	default:
	}
}

// nearDeadline fires 10 s before go test's deadline (-timeout), or never
// when there is none: waits on a condition fail there, not after a fixed
// few seconds that a loaded machine may need.
func nearDeadline(t *testing.T) <-chan time.Time {
	d, ok := t.Deadline()
	if !ok {
		return nil
	}
	return time.After(time.Until(d) - 10*time.Second)
}
