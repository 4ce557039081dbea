package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"time"
)

// The defaults of SyncedGateway's zero fields.
const (
	// DefaultFullSyncEvery is FULL_SYNC_EVERY's default: a week.
	DefaultFullSyncEvery = 168 * time.Hour
	// DefaultSyncOverlap is how far before the last sync an incremental sync
	// reads again, for clocks that differ and listings that lag.
	DefaultSyncOverlap = 15 * time.Minute
	// EventHorizon is how old a sync may be for an incremental one: Stripe
	// lists events for 30 days, and a day of margin is kept.
	EventHorizon = 29 * 24 * time.Hour
	// syncBatch is how many refunds go to the mirror per transaction.
	syncBatch = 5000
)

// SyncCursor says how far the mirror of a gateway's refunds can be trusted.
type SyncCursor struct {
	// SyncedAt is when the last successful sync started: every change since
	// then (less the overlap) is still to be fetched.
	SyncedAt time.Time
	// FullAt is when the last successful full listing started.
	FullAt time.Time
	// From is the earliest created time from which the mirror holds every
	// refund: a window starting earlier needs a full listing.
	From time.Time
}

// Mirror keeps the gateway refunds a sync has read, and the sync cursors.
// The store implements it.
type Mirror interface {
	// SyncCursor returns the cursor named name; ok is false when there is
	// none.
	SyncCursor(ctx context.Context, name string) (c SyncCursor, ok bool, err error)
	// SaveRefunds inserts or replaces refunds by id, in one transaction,
	// and writes cursor under name in the same transaction when it is not
	// nil. A refund's empty charge, payment intent or customer keeps the
	// value already stored (an event's refund does not expand its charge).
	SaveRefunds(ctx context.Context, name string, refunds []GatewayRefund, cursor *SyncCursor) error
	// MirroredRefunds calls fn for every stored refund created inside
	// [since, until], in whole seconds as Gateway.Refunds reads them.
	MirroredRefunds(ctx context.Context, since, until time.Time, fn func(GatewayRefund) error) error
}

// ChangeSource lists what changed at the gateway. The gateway adapter
// implements it.
type ChangeSource interface {
	// RefundEventsSince calls fn with the refunds that refund events
	// created at or after since carry, oldest state first: when a refund
	// comes more than once, the last one is the newest.
	RefundEventsSince(ctx context.Context, since time.Time, fn func(GatewayRefund) error) error
}

// SyncedGateway is a Gateway whose Refunds reads a mirror kept up to date
// with only what changed since its last sync, instead of listing the whole
// window from the gateway every run. Every other method reads the gateway.
//
// A sync lists the whole window again (and delivers that listing) on the
// first run, with Full, when the last full listing is FullEvery old, when
// the last sync is older than the event horizon, or when the cursor cannot
// be trusted (in the future, or the window starts before the mirror's
// From). Otherwise it fetches, from Since = the last sync less Overlap: the
// refunds created since, the refunds carried by events since, and the
// refunds failed since (refund_failure balance transactions, each looked up
// again unless an event of this sync showed it failed, so a late failure is
// mirrored even without its event). It then serves the window from the
// mirror. The Runner still sweeps refund_failure balance transactions over
// the whole window on every run: the mirror only makes the listing cheap. The cursor is written only with the
// last batch of a sync that succeeded: a failed sync changes no cursor, and
// the refunds it saved are only fresher copies.
type SyncedGateway struct {
	Gateway
	Changes ChangeSource
	Mirror  Mirror
	// Name names the cursor; it should change whenever what the mirror
	// holds would (another account, another metadata key).
	Name string
	// FullEvery is FULL_SYNC_EVERY (0: DefaultFullSyncEvery).
	FullEvery time.Duration
	// Overlap is read again before the last sync (0: DefaultSyncOverlap).
	Overlap time.Duration
	// Full forces a full listing (run --full).
	Full bool
	// Now is the clock (nil: time.Now).
	Now func() time.Time
	// Synced, when set, is told what each sync did.
	Synced func(SyncStats)
}

// SyncStats says what one sync did.
type SyncStats struct {
	Full bool
	// Reason says why a sync was full: "first", "forced", "due",
	// "horizon", "untrusted", "window".
	Reason string
	// Saved counts the refunds written to the mirror.
	Saved int
}

// Refunds lists every refund created inside [since, until], syncing the
// mirror first. A zero since (the whole history) reads the gateway.
func (g *SyncedGateway) Refunds(ctx context.Context, since, until time.Time, fn func(GatewayRefund) error) error {
	if since.IsZero() {
		return g.Gateway.Refunds(ctx, since, until, fn)
	}
	now := time.Now
	if g.Now != nil {
		now = g.Now
	}
	start := now().UTC()
	c, ok, err := g.Mirror.SyncCursor(ctx, g.Name)
	if err != nil {
		return fmt.Errorf("read sync cursor: %w", err)
	}
	stats := SyncStats{Reason: g.fullReason(c, ok, since, start)}
	stats.Full = stats.Reason != ""
	if g.Synced != nil {
		defer func() { g.Synced(stats) }()
	}
	// Everything up to now is fetched, whatever until says, so that the
	// next sync may start from now.
	hi := until
	if hi.Before(start) {
		hi = start
	}

	b := batch{g: g, stats: &stats}
	if stats.Full {
		lo, hiSec := since.Unix(), until.Unix()
		err := g.Gateway.Refunds(ctx, since, hi, func(r GatewayRefund) error {
			if err := b.add(ctx, r); err != nil {
				return err
			}
			if s := r.Created.Unix(); s >= lo && s <= hiSec {
				return fn(r)
			}
			return nil
		})
		if err != nil {
			return err
		}
		return b.flush(ctx, &SyncCursor{SyncedAt: start, FullAt: start, From: since})
	}

	from := c.SyncedAt.Add(-cmp.Or(g.Overlap, DefaultSyncOverlap))
	// Refunds an event showed failed need no look-up: failed is final.
	failedByEvent := map[string]bool{}
	if g.Changes != nil {
		err := g.Changes.RefundEventsSince(ctx, from, func(r GatewayRefund) error {
			failedByEvent[r.ID] = r.Status == RefundFailed
			return b.add(ctx, r)
		})
		if err != nil {
			return fmt.Errorf("sync refund events: %w", err)
		}
	}
	if err := g.Gateway.Refunds(ctx, from, hi, func(r GatewayRefund) error { return b.add(ctx, r) }); err != nil {
		return fmt.Errorf("sync new refunds: %w", err)
	}
	var failures []RefundFailure
	err = g.Gateway.RefundFailures(ctx, from, hi, func(f RefundFailure) error {
		failures = append(failures, f)
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync refund failures: %w", err)
	}
	seen := make(map[string]bool, len(failures))
	for _, f := range failures {
		if seen[f.RefundID] || failedByEvent[f.RefundID] {
			continue
		}
		seen[f.RefundID] = true
		r, err := g.Gateway.Refund(ctx, f.RefundID)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue
			}
			return fmt.Errorf("sync failed refund %s: %w", f.RefundID, err)
		}
		r.FailedAt = f.FailedAt
		if err := b.add(ctx, r); err != nil {
			return err
		}
	}
	if err := b.flush(ctx, &SyncCursor{SyncedAt: start, FullAt: c.FullAt, From: c.From}); err != nil {
		return err
	}
	if err := g.Mirror.MirroredRefunds(ctx, since, until, fn); err != nil {
		return fmt.Errorf("read mirrored refunds: %w", err)
	}
	return nil
}

// fullReason says why a sync must list the whole window; "" when it need
// not.
func (g *SyncedGateway) fullReason(c SyncCursor, ok bool, since, now time.Time) string {
	switch {
	case !ok:
		return "first"
	case g.Full:
		return "forced"
	case c.SyncedAt.After(now) || c.From.IsZero():
		return "untrusted"
	case now.Sub(c.SyncedAt) > EventHorizon:
		return "horizon"
	case now.Sub(c.FullAt) >= cmp.Or(g.FullEvery, DefaultFullSyncEvery):
		return "due"
	case since.Unix() < c.From.Unix():
		return "window"
	}
	return ""
}

// batch gathers refunds for the mirror, the last copy of an id winning.
type batch struct {
	g     *SyncedGateway
	stats *SyncStats
	rs    []GatewayRefund
	at    map[string]int
}

func (b *batch) add(ctx context.Context, r GatewayRefund) error {
	if b.at == nil {
		b.at = make(map[string]int, syncBatch)
	}
	if i, ok := b.at[r.ID]; ok {
		if r.FailedAt.IsZero() {
			r.FailedAt = b.rs[i].FailedAt
		}
		b.rs[i] = r
		return nil
	}
	b.at[r.ID] = len(b.rs)
	b.rs = append(b.rs, r)
	if len(b.rs) >= syncBatch {
		return b.flush(ctx, nil)
	}
	return nil
}

// flush saves the gathered refunds, with cursor when it is not nil.
func (b *batch) flush(ctx context.Context, cursor *SyncCursor) error {
	if len(b.rs) == 0 && cursor == nil {
		return nil
	}
	if err := b.g.Mirror.SaveRefunds(ctx, b.g.Name, b.rs, cursor); err != nil {
		return fmt.Errorf("save mirrored refunds: %w", err)
	}
	b.stats.Saved += len(b.rs)
	b.rs = b.rs[:0]
	clear(b.at)
	return nil
}
