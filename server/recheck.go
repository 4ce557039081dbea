package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"sync"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Clock is the Rechecker's time: the debounce, retry and shutdown waits.
// Tests inject a fake one instead of sleeping against real timers.
type Clock interface {
	Now() time.Time
	// NewTimer returns a channel that receives once d has passed, and a
	// function that stops the timer.
	NewTimer(d time.Duration) (<-chan time.Time, func() bool)
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }
func (realClock) NewTimer(d time.Duration) (<-chan time.Time, func() bool) {
	t := time.NewTimer(d)
	return t.C, t.Stop
}

// RecheckConfig configures the Rechecker. Zero durations and sizes take the
// defaults.
type RecheckConfig struct {
	// Resolve returns the customer of the event's refund ("" when its
	// charge has none); it may call the gateway.
	Resolve func(ctx context.Context, ev reconcile.RefundEvent) (string, error)
	// Check re-checks one customer (the on-demand run).
	Check func(ctx context.Context, customerID string) error
	// Debounce waits this long after the first event of a customer before
	// checking it, so that a burst (charge.refund.updated and
	// refund.updated arrive together) makes one run (default 2s).
	Debounce time.Duration
	// RetryAfter is the wait before trying again a check that another
	// reconciliation held up or that failed (default 30s).
	RetryAfter time.Duration
	// MaxAttempts bounds the tries of a check that keeps failing, and of a
	// customer look-up (default 5). A check held up by another
	// reconciliation is tried for up to MaxWait (default 3h): a long
	// nightly run must not lose the re-check.
	MaxAttempts int
	MaxWait     time.Duration
	// Timeout bounds one look-up or check (default DefaultCheckTimeout).
	Timeout time.Duration
	// QueueSize bounds the re-checks waiting: distinct customers (or
	// charges whose customer is not looked up yet). Events about one that
	// already waits join it and take no room. Beyond it events are dropped
	// (default 1000).
	QueueSize int
	// RecentEvents is how many event ids are remembered to drop a second
	// delivery of the same event (default 10000).
	RecentEvents int
	// Clock defaults to the real time.
	Clock   Clock
	Metrics *Metrics
	Logger  *slog.Logger
}

// Enqueued is what became of an event given to Enqueue.
type Enqueued int

// The outcomes of Enqueue.
const (
	// Queued: a new re-check waits.
	Queued Enqueued = iota
	// Coalesced: a re-check of the same customer (or charge, or refund)
	// already waited; this event joined it.
	Coalesced
	// Duplicate: an event with this id was taken already; nothing more is
	// done (Stripe delivers an event at least once).
	Duplicate
	// Dropped: the queue is full or the Rechecker stopped. Nothing is
	// remembered, so Stripe's next delivery of the event is taken; the
	// nightly run covers the customer anyway.
	Dropped
)

func (e Enqueued) String() string {
	switch e {
	case Queued:
		return "queued"
	case Coalesced:
		return "coalesced"
	case Duplicate:
		return "duplicate"
	}
	return "dropped"
}

// Rechecker re-checks the customers whose refunds Stripe reports changed.
// Enqueue never blocks the webhook: events wait in a bounded set keyed by
// customer (or by charge until the customer is looked up), so a flood about
// few customers makes few runs and a flood about many fills the set and is
// dropped rather than growing memory; a second delivery of one event id is
// ignored. One worker (Run) looks customers up and checks them one at a
// time, earliest due first (every run takes the reconciliation lock anyway).
//
// Pending re-checks live in memory: those waiting when the process stops are
// dropped (and logged); the next nightly run covers them.
type Rechecker struct {
	cfg   RecheckConfig
	log   *slog.Logger
	clock Clock

	mu      sync.Mutex
	pending map[string]*pending
	seq     uint64
	recent  recentIDs
	stopped bool
	wake    chan struct{} // an event arrived
	stop    chan struct{} // closed by Stop
}

// NewRechecker builds a Rechecker; Run starts its worker.
func NewRechecker(cfg RecheckConfig) *Rechecker {
	if cfg.Debounce <= 0 {
		cfg.Debounce = 2 * time.Second
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 30 * time.Second
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 5
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 3 * time.Hour
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultCheckTimeout
	}
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = 1000
	}
	if cfg.RecentEvents <= 0 {
		cfg.RecentEvents = 10000
	}
	if cfg.Clock == nil {
		cfg.Clock = realClock{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(MetricsConfig{})
	}
	return &Rechecker{
		cfg: cfg, log: cfg.Logger.With("component", "recheck"), clock: cfg.Clock,
		pending: map[string]*pending{}, recent: newRecentIDs(cfg.RecentEvents),
		wake: make(chan struct{}, 1), stop: make(chan struct{}),
	}
}

// pending is one customer, or one charge (refund) whose customer is not
// known yet, waiting for its due time.
type pending struct {
	ev       reconcile.RefundEvent // the latest event
	customer string
	due      time.Time
	first    time.Time
	attempts int
	seq      uint64 // arrival order: equal due times are taken first come first
}

// key is what events coalesce by: the customer, else the charge (one
// customer per charge), else the payment intent, else the refund.
func (p *pending) key() string {
	switch {
	case p.customer != "":
		return "customer:" + p.customer
	case p.ev.ChargeID != "":
		return "charge:" + p.ev.ChargeID
	case p.ev.PaymentIntentID != "":
		return "payment_intent:" + p.ev.PaymentIntentID
	}
	return "refund:" + p.ev.RefundID
}

// Enqueue takes an event without blocking and says what became of it.
func (q *Rechecker) Enqueue(ev reconcile.RefundEvent) Enqueued {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.stopped {
		return Dropped
	}
	if ev.ID != "" && q.recent.has(ev.ID) {
		return Duplicate
	}
	now := q.clock.Now()
	q.seq++
	p := &pending{ev: ev, customer: ev.CustomerID, due: now.Add(q.cfg.Debounce), first: now, seq: q.seq}
	out := Queued
	if old, ok := q.pending[p.key()]; ok {
		old.ev = ev // coalesced: one check covers both
		out = Coalesced
	} else if len(q.pending) >= q.cfg.QueueSize {
		return Dropped
	} else {
		q.pending[p.key()] = p
	}
	if ev.ID != "" {
		q.recent.add(ev.ID)
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return out
}

// Pending is the number of re-checks waiting.
func (q *Rechecker) Pending() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.pending)
}

// Stop makes the Rechecker take no more events and Run return once the
// look-up or check in progress, if any, is over. It does not wait.
func (q *Rechecker) Stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.stopped {
		q.stopped = true
		close(q.stop)
	}
}

// requeue puts back an item to try again, or a looked-up customer; an item
// already waiting under its key covers it.
func (q *Rechecker) requeue(p *pending) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if old, ok := q.pending[p.key()]; ok {
		if p.due.Before(old.due) {
			old.due = p.due
		}
		old.seq = min(old.seq, p.seq)
		return
	}
	q.pending[p.key()] = p // at most one over QueueSize: it was taken out
}

// next takes the earliest item if it is due; otherwise it returns how long
// until it is (negative: nothing waits).
func (q *Rechecker) next() (*pending, time.Duration) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var first *pending
	for _, p := range q.pending {
		if first == nil || p.due.Before(first.due) || p.due.Equal(first.due) && p.seq < first.seq {
			first = p
		}
	}
	if first == nil {
		return nil, -1
	}
	if wait := first.due.Sub(q.clock.Now()); wait > 0 {
		return nil, wait
	}
	delete(q.pending, first.key())
	return first, 0
}

// Run works until Stop is called or ctx is done. After Stop, the look-up or
// check in progress finishes (bounded by Timeout) and nothing more is
// taken; cancelling ctx cancels it too.
func (q *Rechecker) Run(ctx context.Context) {
	defer func() {
		if n := q.Pending(); n > 0 {
			q.cfg.Metrics.recheck("dropped")
			q.log.Warn("re-checks dropped at shutdown; the next nightly run covers them", "pending", n)
		}
	}()
	for {
		select {
		case <-q.stop:
			return
		case <-ctx.Done():
			return
		default:
		}
		p, wait := q.next()
		if p != nil {
			if retry := q.process(ctx, p); retry != nil {
				q.requeue(retry)
			}
			continue
		}
		var fire <-chan time.Time
		stop := func() bool { return false }
		if wait > 0 {
			fire, stop = q.clock.NewTimer(wait)
		}
		select {
		case <-q.stop:
		case <-ctx.Done():
		case <-q.wake:
		case <-fire:
		}
		stop()
	}
}

// process looks a refund's customer up, or checks a customer. It returns
// the item to try again later, or nil.
func (q *Rechecker) process(ctx context.Context, p *pending) (retry *pending) {
	defer func() {
		if r := recover(); r != nil {
			q.cfg.Metrics.RunPanicked()
			q.log.Error("re-check panicked", "customer_id", p.customer, "refund_id", p.ev.RefundID, "panic", r, "stack", string(debug.Stack()))
			retry = nil
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, q.cfg.Timeout)
	defer cancel()
	if p.customer == "" {
		customer, err := q.cfg.Resolve(ctx, p.ev)
		switch {
		case err != nil && !errors.Is(err, reconcile.ErrNotFound) && p.attempts+1 < q.cfg.MaxAttempts && ctx.Err() == nil:
			q.cfg.Metrics.recheck("retried")
			q.log.Warn("re-check: customer look-up failed; trying again", "refund_id", p.ev.RefundID, "charge_id", p.ev.ChargeID,
				"attempt", p.attempts+1, "error", err)
			p.attempts++
			p.due = q.clock.Now().Add(q.cfg.RetryAfter)
			return p
		case err != nil:
			q.cfg.Metrics.recheck("failed")
			q.log.Error("re-check: customer look-up failed; giving up", "refund_id", p.ev.RefundID, "charge_id", p.ev.ChargeID, "error", err)
			return nil
		case customer == "":
			q.cfg.Metrics.recheck("no_customer")
			q.log.Info("re-check: the refund's charge has no customer; the nightly run covers it", "refund_id", p.ev.RefundID, "charge_id", p.ev.ChargeID)
			return nil
		}
		// Looked up: now a customer item, due at once (the debounce is over),
		// in its place in the arrival order.
		return &pending{ev: p.ev, customer: customer, due: q.clock.Now(), first: p.first, seq: p.seq}
	}
	err := q.cfg.Check(ctx, p.customer)
	waited := q.clock.Now().Sub(p.first)
	switch {
	case err == nil:
		q.cfg.Metrics.recheck("succeeded")
		q.log.Info("re-checked customer after a Stripe event", "customer_id", p.customer, "event_id", p.ev.ID,
			"refund_id", p.ev.RefundID, "latency", waited.String())
		return nil
	case errors.Is(ctx.Err(), context.Canceled):
		q.cfg.Metrics.recheck("dropped")
		q.log.Warn("re-check cancelled at shutdown; the next nightly run covers the customer", "customer_id", p.customer, "refund_id", p.ev.RefundID)
		return nil
	case errors.Is(err, reconcile.ErrLocked) && waited < q.cfg.MaxWait,
		!errors.Is(err, reconcile.ErrLocked) && p.attempts+1 < q.cfg.MaxAttempts:
		if !errors.Is(err, reconcile.ErrLocked) {
			p.attempts++
		}
		q.cfg.Metrics.recheck("retried")
		q.log.Info("re-check postponed", "customer_id", p.customer, "reason", err.Error(), "retry_in", q.cfg.RetryAfter.String())
		p.due = q.clock.Now().Add(q.cfg.RetryAfter)
		return p
	}
	q.cfg.Metrics.recheck("failed")
	q.log.Error("re-check failed; giving up", "customer_id", p.customer, "refund_id", p.ev.RefundID, "error", err)
	return nil
}

// recentIDs remembers the last n event ids: a fixed-size ring and a set,
// so memory stays bounded whatever Stripe sends.
type recentIDs struct {
	ring []string
	next int
	set  map[string]struct{}
}

func newRecentIDs(n int) recentIDs {
	return recentIDs{ring: make([]string, n), set: make(map[string]struct{}, n)}
}

func (r *recentIDs) has(id string) bool {
	_, ok := r.set[id]
	return ok
}

func (r *recentIDs) add(id string) {
	if old := r.ring[r.next]; old != "" {
		delete(r.set, old)
	}
	r.ring[r.next] = id
	r.set[id] = struct{}{}
	r.next = (r.next + 1) % len(r.ring)
}
