package alert

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Channel sends alerts to one outside world.
type Channel interface {
	// Name is the channel's name in the outbox (SlackName, …).
	Name() string
	// Send delivers one alert. Its error holds no secret; a *SendError
	// carries the receiver's status and Retry-After.
	Send(ctx context.Context, a reconcile.Alert) error
}

// Outbox is where alerts wait to be delivered; the store implements it.
type Outbox interface {
	// ClaimAlert claims the oldest alert due at now on one of channels,
	// for lease; ok is false when none is due.
	ClaimAlert(ctx context.Context, channels []string, now time.Time, lease time.Duration) (a reconcile.Alert, ok bool, err error)
	// AlertDelivered marks a claimed alert delivered.
	AlertDelivered(ctx context.Context, a reconcile.Alert, at time.Time) error
	// AlertFailed records a failed attempt; the alert is due again at next.
	AlertFailed(ctx context.Context, a reconcile.Alert, next time.Time, reason string) error
	// NextAlertDue says when the next undelivered alert on one of channels
	// can be claimed.
	NextAlertDue(ctx context.Context, channels []string) (t time.Time, ok bool, err error)
}

// Defaults of a Dispatcher.
const (
	DefaultTimeout    = 10 * time.Second
	DefaultBackoff    = 5 * time.Second
	DefaultMaxBackoff = time.Hour
	// MaxRetryAfter bounds a receiver's Retry-After.
	MaxRetryAfter = 24 * time.Hour
)

// Dispatcher delivers the outbox: it claims due alerts one at a time, sends
// each on its channel, and marks it delivered or failed. A failure is retried
// after Backoff, doubling with each attempt up to MaxBackoff, or after the
// receiver's Retry-After when that is later. A channel that fails is left
// alone for the rest of the pass (in Drain and Loop: until the failed
// alert's next attempt), so that a receiver that is down is not hammered;
// its alerts wait for their next attempt.
//
// Several dispatchers, in one process or many, may share an outbox: a claim
// is a lease only one holds.
type Dispatcher struct {
	Outbox   Outbox
	Channels []Channel
	// Timeout bounds each send (default DefaultTimeout).
	Timeout time.Duration
	// Backoff is the delay before the first retry (default DefaultBackoff);
	// it doubles with every attempt up to MaxBackoff (default
	// DefaultMaxBackoff).
	Backoff    time.Duration
	MaxBackoff time.Duration
	// Lease is how long a claim keeps other processes off an alert
	// (default Timeout plus a minute). A process that dies mid-send leaves
	// the alert to be claimed again when the lease ends.
	Lease time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per failed attempt and per pass that did
	// anything; nil discards.
	Logger *slog.Logger
}

// Stats counts what a pass did.
type Stats struct {
	Delivered int
	Failed    int
}

func (s *Stats) add(o Stats) { s.Delivered += o.Delivered; s.Failed += o.Failed }

func (d *Dispatcher) now() time.Time {
	if d.Now != nil {
		return d.Now().UTC()
	}
	return time.Now().UTC()
}

func (d *Dispatcher) log() *slog.Logger {
	if d.Logger != nil {
		return d.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// active returns the channels not paused at now.
func (d *Dispatcher) active(paused map[string]time.Time, now time.Time) []string {
	var names []string
	for _, c := range d.Channels {
		if until, ok := paused[c.Name()]; !ok || !now.Before(until) {
			names = append(names, c.Name())
		}
	}
	return names
}

// wake returns when the next pass may do something: the first alert due on
// a channel not paused, or the end of the first pause. ok is false when
// nothing is pending.
//
// Both halves judge the pauses at one instant: a channel whose pause ended
// while NextAlertDue ran was otherwise left out of both (not active before
// the query, no longer paused after it), and Drain stopped with its retry
// pending.
func (d *Dispatcher) wake(ctx context.Context, paused map[string]time.Time) (time.Time, bool, error) {
	now := d.now()
	next, ok, err := d.Outbox.NextAlertDue(ctx, d.active(paused, now))
	if err != nil {
		return time.Time{}, false, err
	}
	for _, until := range paused {
		if until.After(now) && (!ok || until.Before(next)) {
			next, ok = until, true
		}
	}
	return next, ok, nil
}

// backoff is the delay after a failed attempt (1 for the first).
func (d *Dispatcher) backoff(attempt int) time.Duration {
	base := cmp.Or(d.Backoff, DefaultBackoff)
	ceiling := cmp.Or(d.MaxBackoff, DefaultMaxBackoff)
	delay := base
	for i := 1; i < attempt && delay < ceiling; i++ {
		delay *= 2
	}
	return min(delay, ceiling)
}

// Deliver makes one pass: it sends every alert due now, except on channels
// that failed during the pass. It returns an error only when the outbox
// fails; a failed send is recorded, logged and counted.
func (d *Dispatcher) Deliver(ctx context.Context) (Stats, error) {
	return d.deliver(ctx, map[string]time.Time{})
}

// deliver is one pass. paused holds, by channel, when a channel that failed
// may be tried again (the failed alert's next attempt); it carries over the
// passes of one Drain or Loop, so that a receiver that is down gets one
// request per backoff, not one per pending alert.
func (d *Dispatcher) deliver(ctx context.Context, paused map[string]time.Time) (Stats, error) {
	var st Stats
	if len(d.Channels) == 0 {
		return st, nil
	}
	byName := make(map[string]Channel, len(d.Channels))
	for _, c := range d.Channels {
		byName[c.Name()] = c
	}
	timeout := cmp.Or(d.Timeout, DefaultTimeout)
	lease := cmp.Or(d.Lease, timeout+time.Minute)
	log := d.log()
	defer func() {
		if st.Delivered+st.Failed > 0 {
			log.Info("alerts sent", "delivered", st.Delivered, "failed", st.Failed)
		}
	}()
	for ctx.Err() == nil {
		active := d.active(paused, d.now())
		if len(active) == 0 {
			break
		}
		a, ok, err := d.Outbox.ClaimAlert(ctx, active, d.now(), lease)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			return st, fmt.Errorf("deliver alerts: %w", err)
		}
		if !ok {
			break
		}
		ch := byName[a.Channel]
		sctx, cancel := context.WithTimeout(ctx, timeout)
		sendErr := ch.Send(sctx, a)
		cancel()

		// Record the outcome even when ctx ends now: a delivered alert
		// that is not marked would go out again.
		mctx, mcancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		attrs := []any{"alert_id", a.ID, "channel", a.Channel, "action", string(a.Action),
			"discrepancy_id", a.DiscrepancyID, "attempt", a.Attempts}
		if sendErr == nil {
			err := d.Outbox.AlertDelivered(mctx, a, d.now())
			mcancel()
			if errors.Is(err, reconcile.ErrConflict) {
				log.Warn("alert delivered after its claim was lost", append(attrs, "error", err)...)
				continue
			}
			if err != nil {
				return st, fmt.Errorf("deliver alerts: %w", err)
			}
			st.Delivered++
			log.Debug("alert delivered", attrs...)
			continue
		}

		next := d.now().Add(d.backoff(a.Attempts))
		var se *SendError
		if errors.As(sendErr, &se) && se.RetryAfter > 0 {
			if at := d.now().Add(min(se.RetryAfter, MaxRetryAfter)); at.After(next) {
				next = at
			}
		}
		if ctx.Err() != nil {
			// Cut short by shutdown: not the receiver's fault, retry at once.
			next = d.now()
		}
		err = d.Outbox.AlertFailed(mctx, a, next, sendErr.Error())
		mcancel()
		if err != nil && !errors.Is(err, reconcile.ErrConflict) {
			return st, fmt.Errorf("deliver alerts: %w", err)
		}
		st.Failed++
		paused[a.Channel] = next
		log.Warn("alert not delivered", append(attrs, "next_attempt_at", next, "error", sendErr)...)
	}
	return st, nil
}

// Drain makes passes until no alert is left or the next one is not due
// within wait: a command waits that long for retries after its run, and
// leaves the rest to the next run or to serve. It stops when ctx ends.
func (d *Dispatcher) Drain(ctx context.Context, wait time.Duration) (Stats, error) {
	var total Stats
	deadline := time.Now().Add(wait)
	paused := map[string]time.Time{}
	for {
		st, err := d.deliver(ctx, paused)
		total.add(st)
		if err != nil || ctx.Err() != nil {
			return total, err
		}
		next, ok, err := d.wake(ctx, paused)
		if err != nil || !ok {
			return total, err
		}
		pause := next.Sub(d.now())
		if wait <= 0 || time.Now().Add(pause).After(deadline) {
			return total, nil
		}
		if err := sleep(ctx, d.minPause(pause, st)); err != nil {
			return total, nil
		}
	}
}

// minPause keeps a pass that made no progress (its alerts wait behind an
// alert another process holds) from spinning.
func (d *Dispatcher) minPause(pause time.Duration, st Stats) time.Duration {
	floor := 10 * time.Millisecond
	if st.Delivered+st.Failed == 0 {
		floor = min(time.Second, cmp.Or(d.Backoff, DefaultBackoff))
	}
	return max(pause, floor)
}

// Loop delivers the outbox until ctx ends, for serve: a pass when an alert
// is due, and at least every interval so that alerts other processes
// enqueue go out. A channel that fails is paused until its failed alert's
// next attempt. It returns nil when ctx ends, or the outbox's error.
func (d *Dispatcher) Loop(ctx context.Context, interval time.Duration) error {
	interval = cmp.Or(interval, 30*time.Second)
	paused := map[string]time.Time{}
	for {
		st, err := d.deliver(ctx, paused)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			// The database may be back soon: log and keep going.
			d.log().Error("deliver alerts", "error", err)
		}
		pause := interval
		if next, ok, err := d.wake(ctx, paused); err == nil && ok {
			pause = min(pause, next.Sub(d.now()))
		}
		if err := sleep(ctx, d.minPause(pause, st)); err != nil {
			return nil
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
