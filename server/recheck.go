package server

import (
	"context"
	"errors"
	"log/slog"
	"runtime/debug"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

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
	// QueueSize is how many events may wait for the worker (default 1000).
	QueueSize int
	Metrics   *Metrics
	Logger    *slog.Logger
}

// Rechecker re-checks the customers whose refunds Stripe reports changed:
// events queue without blocking the webhook, one worker looks each refund's
// customer up, coalesces the events of one customer, and checks customers
// one at a time (every run takes the reconciliation lock anyway).
//
// Pending re-checks live in memory: those queued when the process stops are
// dropped (and logged); the next nightly run covers them.
type Rechecker struct {
	cfg    RecheckConfig
	events chan reconcile.RefundEvent
	log    *slog.Logger
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
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(MetricsConfig{})
	}
	return &Rechecker{cfg: cfg, events: make(chan reconcile.RefundEvent, cfg.QueueSize), log: cfg.Logger.With("component", "recheck")}
}

// Enqueue queues an event without blocking; false when the queue is full.
func (q *Rechecker) Enqueue(ev reconcile.RefundEvent) bool {
	select {
	case q.events <- ev:
		return true
	default:
		return false
	}
}

// pending is one customer, or one refund whose customer is not known yet,
// waiting for its due time.
type pending struct {
	ev       reconcile.RefundEvent // the latest event
	customer string
	due      time.Time
	first    time.Time
	attempts int
}

// Run works until ctx is done. The look-up or check in progress then still
// finishes (bounded by Timeout): a run is not cut in half by a shutdown.
func (q *Rechecker) Run(ctx context.Context) {
	work := context.WithoutCancel(ctx)
	byCustomer := map[string]*pending{}
	byRefund := map[string]*pending{} // customer not looked up yet
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	add := func(p *pending) {
		if p.customer == "" {
			if old, ok := byRefund[p.ev.RefundID]; ok {
				old.ev = p.ev
				return
			}
			byRefund[p.ev.RefundID] = p
			return
		}
		if old, ok := byCustomer[p.customer]; ok {
			old.ev = p.ev // coalesced: one check covers both
			return
		}
		byCustomer[p.customer] = p
	}
	for {
		now := time.Now()
		// Take whatever is due, look-ups first so their customers coalesce.
		var next *pending
		for id, p := range byRefund {
			if !p.due.After(now) {
				delete(byRefund, id)
				next = p
				break
			}
		}
		if next == nil {
			for c, p := range byCustomer {
				if !p.due.After(now) {
					delete(byCustomer, c)
					next = p
					break
				}
			}
		}
		if next != nil {
			if retry := q.process(work, next); retry != nil {
				add(retry)
			}
			continue
		}
		wake := now.Add(time.Hour)
		for _, m := range []map[string]*pending{byRefund, byCustomer} {
			for _, p := range m {
				if p.due.Before(wake) {
					wake = p.due
				}
			}
		}
		timer.Reset(time.Until(wake))
		select {
		case <-ctx.Done():
			if n := len(byRefund) + len(byCustomer) + len(q.events); n > 0 {
				q.log.Warn("re-checks dropped at shutdown; the next nightly run covers them", "pending", n)
			}
			return
		case ev := <-q.events:
			now := time.Now()
			add(&pending{ev: ev, customer: ev.CustomerID, due: now.Add(q.cfg.Debounce), first: now})
		case <-timer.C:
		}
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
		case err != nil && !errors.Is(err, reconcile.ErrNotFound) && p.attempts+1 < q.cfg.MaxAttempts:
			q.cfg.Metrics.recheck("retried")
			q.log.Warn("re-check: customer look-up failed; trying again", "refund_id", p.ev.RefundID, "charge_id", p.ev.ChargeID,
				"attempt", p.attempts+1, "error", err)
			p.attempts++
			p.due = time.Now().Add(q.cfg.RetryAfter)
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
		// Looked up: now a customer item, due at once (the debounce is over).
		return &pending{ev: p.ev, customer: customer, due: time.Now(), first: p.first}
	}
	err := q.cfg.Check(ctx, p.customer)
	switch {
	case err == nil:
		q.cfg.Metrics.recheck("succeeded")
		q.log.Info("re-checked customer after a Stripe event", "customer_id", p.customer, "event_id", p.ev.ID,
			"refund_id", p.ev.RefundID, "latency", time.Since(p.first).String())
		return nil
	case errors.Is(err, reconcile.ErrLocked) && time.Since(p.first) < q.cfg.MaxWait,
		!errors.Is(err, reconcile.ErrLocked) && p.attempts+1 < q.cfg.MaxAttempts:
		if !errors.Is(err, reconcile.ErrLocked) {
			p.attempts++
		}
		q.cfg.Metrics.recheck("retried")
		q.log.Info("re-check postponed", "customer_id", p.customer, "reason", err.Error(), "retry_in", q.cfg.RetryAfter.String())
		p.due = time.Now().Add(q.cfg.RetryAfter)
		return p
	}
	q.cfg.Metrics.recheck("failed")
	q.log.Error("re-check failed; giving up", "customer_id", p.customer, "refund_id", p.ev.RefundID, "error", err)
	return nil
}
