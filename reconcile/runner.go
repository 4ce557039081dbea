package reconcile

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"
)

// Runner runs reconciliations: it reads both sides, matches and classifies
// them, and records the outcome. Build one per process; it holds no state
// between runs.
type Runner struct {
	Ledger  Ledger
	Gateway Gateway
	Store   Store
	Rules   Rules
	// Margin widens the read of both sides around the window so that a
	// record just outside it still finds its partner (default 720h).
	Margin time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives progress at debug level; nil discards it.
	Logger *slog.Logger
	// NewID names a run; nil means NewRunID. The demo makes it
	// deterministic.
	NewID func(now time.Time) string
	// ChargeConcurrency is how many charges' refunds a customer check lists
	// at once (fanout.go); 0 or 1 lists them one at a time. Above 1, the
	// Gateway must be safe for concurrent use.
	ChargeConcurrency int
	// Progress, when set, is told how far the run has come (progress.go).
	Progress func(Progress)
	// Hold holds a run's alerts when it opens too many new cases
	// (ALERT_HOLD_NEW, hold.go); the zero value never holds.
	Hold HoldPolicy
}

// Timings says where a run spent its time.
type Timings struct {
	Ledger, Gateway, Match, Store time.Duration
}

// timed starts timing one step of a run; the function it returns adds the
// time since to *phase: done := timed(&t.Ledger); …; done().
func timed(phase *time.Duration) (done func()) {
	start := time.Now()
	return func() { *phase += time.Since(start) }
}

// Run reconciles one scope. A discrepancy is data: Run returns an error only
// when the run did not finish, and then it has recorded the run as failed
// and changed no discrepancy. A gateway listing that did not finish never
// turns into missing_at_gateway or missing_in_ledger.
func (r *Runner) Run(ctx context.Context, scope Scope) (Report, error) {
	return r.RunFenced(ctx, scope, Fence{})
}

// RunFenced is Run for a caller holding the reconciliation lock: the run
// records its outcome only while fence still holds, and fails with an error
// wrapping ErrFenced otherwise, changing nothing.
func (r *Runner) RunFenced(ctx context.Context, scope Scope, fence Fence) (Report, error) {
	now := r.now()
	if scope.Until.IsZero() {
		scope.Until = now
	}
	newID := r.NewID
	if newID == nil {
		newID = NewRunID
	}
	run := Run{ID: newID(now), Scope: scope, StartedAt: now, Status: RunRunning, Fence: fence}
	if err := r.Store.StartRun(ctx, run); err != nil {
		return Report{Run: run}, fmt.Errorf("record run start: %w", err)
	}
	rep, err := r.reconcile(ctx, &run, now)
	if err != nil {
		run.Status, run.Error, run.FinishedAt = RunFailed, err.Error(), r.now()
		// The run's context may be what failed it: record with a fresh one.
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 15*time.Second)
		defer cancel()
		if ferr := r.Store.FailRun(fctx, run); ferr != nil {
			err = errors.Join(err, fmt.Errorf("record failed run: %w", ferr))
		}
		return Report{Run: run, Timings: rep.Timings}, err
	}
	return rep, nil
}

func (r *Runner) now() time.Time {
	if r.Now != nil {
		return r.Now().UTC()
	}
	return time.Now().UTC()
}

func (r *Runner) log() *slog.Logger {
	if r.Logger != nil {
		return r.Logger
	}
	return slog.New(slog.DiscardHandler)
}

// NewRunID returns a sortable, unique run id.
func NewRunID(now time.Time) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return "run_" + now.UTC().Format("20060102T150405Z") + "_" + hex.EncodeToString(b[:])
}

func (r *Runner) reconcile(ctx context.Context, run *Run, now time.Time) (Report, error) {
	var t Timings
	scope := run.Scope
	margin := cmp.Or(r.Margin, DefaultMargin)
	whole := scope.Since.IsZero()
	from, to := scope.Since.Add(-margin), scope.Until.Add(margin)
	if whole {
		from = time.Time{}
	}
	s := newSides(scope)
	log := r.log().With("run_id", run.ID)

	// The ledger side, with the margin.
	r.progress(Progress{Phase: PhaseLedger})
	done := timed(&t.Ledger)
	err := r.Ledger.Refunds(ctx, LedgerQuery{Since: from, Until: to, CustomerID: scope.CustomerID}, func(l LedgerRefund) error {
		s.addLedger(l, false)
		return nil
	})
	done()
	if err != nil {
		return Report{Timings: t}, fmt.Errorf("read ledger: %w", err)
	}
	log.Debug("ledger read", "ledger_refunds", s.ledger.len(), "elapsed", t.Ledger)

	// The open cases of the scope: a customer who has some is not "nothing
	// found" even when their rows and charges are gone.
	done = timed(&t.Store)
	open, err := r.Store.OpenDiscrepancies(ctx, scope.CustomerID)
	done()
	if err != nil {
		return Report{Timings: t}, fmt.Errorf("load open discrepancies: %w", err)
	}
	s.openCases = len(open)

	// The gateway side: the window's listing, or a customer's charges.
	r.progress(Progress{Phase: PhaseGateway, LedgerRefunds: s.ledger.len()})
	done = timed(&t.Gateway)
	err = r.fetchGateway(ctx, s, from, to)
	done()
	if err != nil {
		return Report{Timings: t}, err
	}
	log.Debug("gateway read", "gateway_refunds", s.gateway.len(), "elapsed", t.Gateway)

	// The open cases of the scope are judged again by direct look-ups of
	// what the reads did not return (rejudge.go).
	done = timed(&t.Gateway)
	err = r.loadRejudged(ctx, s, open)
	done()
	if err != nil {
		return Report{Timings: t}, err
	}

	r.progress(Progress{Phase: PhaseCheck, LedgerRefunds: s.ledger.len(), GatewayRefunds: s.gateway.len()})
	done = timed(&t.Match)
	m := matchTables(&s.ledger, &s.gateway, &s.gwIndex)
	done()

	// The ledger side of gateway refunds that would be reported: late
	// failures, and refunds that look missing in the ledger, whose rows may
	// lie outside the read.
	q := LedgerQuery{}
	for j, gv := range s.gateway.all() {
		g := &gv
		lateFailure := !g.FailedAt.IsZero() && scope.Contains(g.FailedAt)
		missing := g.Status.Live() && s.gatewayInScope(g) && now.Sub(g.Created) > r.Rules.Grace
		if m.Matched[j] || !(lateFailure || missing) {
			continue
		}
		// Ask by every key the ledger row may have recorded: the refund's
		// id, the metadata's ledger id, its charge and its payment intent (a
		// row may name only the intent).
		q.GatewayRefundIDs = append(q.GatewayRefundIDs, g.ID)
		if g.LedgerRefundID != "" {
			q.IDs = append(q.IDs, g.LedgerRefundID)
		}
		if g.ChargeID != "" {
			q.ChargeIDs = append(q.ChargeIDs, g.ChargeID)
		}
		if g.PaymentIntentID != "" {
			q.PaymentIntentIDs = append(q.PaymentIntentIDs, g.PaymentIntentID)
		}
	}
	if q.Keyed() {
		done = timed(&t.Ledger)
		added := 0
		err := r.Ledger.Refunds(ctx, compactQuery(q), func(l LedgerRefund) error {
			if s.addLedger(l, true) {
				added++
			}
			return nil
		})
		done()
		if err != nil {
			return Report{Timings: t}, fmt.Errorf("look up ledger refunds: %w", err)
		}
		log.Debug("ledger look-ups", "keys", len(q.GatewayRefundIDs), "added", added)
		if added > 0 {
			done = timed(&t.Match)
			m = matchTables(&s.ledger, &s.gateway, &s.gwIndex)
			done()
		}
	}

	// Confirm every refund that looks missing at the gateway by asking for
	// the refunds of its charge or payment intent: they may lie outside the
	// listing's window.
	done = timed(&t.Gateway)
	added, err := r.confirmMissing(ctx, s, m, now)
	done()
	if err != nil {
		return Report{Timings: t}, err
	}
	if added {
		done = timed(&t.Match)
		m = matchTables(&s.ledger, &s.gateway, &s.gwIndex)
		done()
	}

	done = timed(&t.Match)
	var found []Discrepancy
	var counts Counts
	var outcomes []RefundOutcome // a customer check's, for its verdict
	seenGateway := make([]bool, s.gateway.len())
	// The classifier asks about the same few currencies for every row.
	rules := r.Rules
	rules.ValidCurrency = memoCurrency(rules.ValidCurrency)
	var scratch []GatewayRefund
	var local []int32
	for i, lv := range s.ledger.all() {
		l := &lv
		matched := m.of(i)
		if !s.ledgerInScope(l, matched) {
			continue
		}
		counts.LedgerRefunds++
		if len(matched) > 0 {
			counts.Matched++
		}
		for _, j := range matched {
			if !seenGateway[j] {
				seenGateway[j] = true
				counts.GatewayRefunds++
			}
		}
		scratch, local = s.gatewayOf(matched, scratch, local)
		d, ok := rules.ClassifyLedger(l, scratch, local, now)
		if ok {
			found = append(found, d)
		}
		if scope.CustomerID != "" {
			outcomes = append(outcomes, outcomeOf(l, scratch, local, d, ok))
		}
	}
	for j, gv := range s.gateway.all() {
		g := &gv
		if !s.gatewayInScope(g) {
			continue
		}
		if !seenGateway[j] {
			seenGateway[j] = true
			counts.GatewayRefunds++
		}
		if m.Matched[j] {
			continue
		}
		d, ok := r.Rules.ClassifyGateway(g, now)
		if ok {
			found = append(found, d)
		}
		if scope.CustomerID != "" {
			o := RefundOutcome{Gateway: []GatewayRefund{*g}}
			if ok {
				o.DiscrepancyID = d.ID
			}
			outcomes = append(outcomes, o)
		}
	}
	found = dedupe(found)
	detach(found)
	counts.Discrepancies = len(found)
	done()

	// Record what Decide makes of the cases found and judged again.
	done = timed(&t.Store)
	run.Status, run.Counts, run.FinishedAt = RunSucceeded, counts, r.now()
	changes, err := r.finish(ctx, run, found, s.judged(open, from, to))
	done()
	if err != nil {
		return Report{Timings: t}, fmt.Errorf("record run: %w", err)
	}
	saved := changes.Cases
	SortDiscrepancies(saved)
	withARNs(outcomes, s.arns)
	return Report{Run: *run, Discrepancies: saved, Resolved: changes.Resolved, Timings: t, Refunds: outcomes}, nil
}

// detach copies the strings of discrepancies that point into a run's
// arena, so that what a run returns does not keep the arena alive.
func detach(ds []Discrepancy) {
	for i := range ds {
		d := &ds[i]
		d.CustomerID, d.LedgerRefundID = strings.Clone(d.CustomerID), strings.Clone(d.LedgerRefundID)
		d.ChargeID, d.Currency = strings.Clone(d.ChargeID), strings.Clone(d.Currency)
		d.GatewayCurrency, d.FailureReason = strings.Clone(d.GatewayCurrency), strings.Clone(d.FailureReason)
		d.GatewayStatus = GatewayStatus(strings.Clone(string(d.GatewayStatus)))
		for k, id := range d.GatewayRefundIDs {
			d.GatewayRefundIDs[k] = strings.Clone(id)
		}
	}
}

// compactQuery removes duplicate keys.
func compactQuery(q LedgerQuery) LedgerQuery {
	for _, keys := range []*[]string{&q.IDs, &q.GatewayRefundIDs, &q.ChargeIDs, &q.PaymentIntentIDs} {
		slices.Sort(*keys)
		*keys = slices.Compact(*keys)
	}
	return q
}

// dedupe keeps the first discrepancy of each id: two ledger rows that are
// the same problem (a duplicated row) make one case.
func dedupe(ds []Discrepancy) []Discrepancy {
	seen := make(map[string]bool, len(ds))
	out := ds[:0]
	for _, d := range ds {
		if !seen[d.ID] {
			seen[d.ID] = true
			out = append(out, d)
		}
	}
	return out
}

// SortDiscrepancies orders discrepancies for reports: by kind in precedence
// order, then customer, ledger refund and gateway refunds.
func SortDiscrepancies(ds []Discrepancy) {
	rank := make(map[Kind]int, len(Kinds))
	for i, k := range Kinds {
		rank[k] = i
	}
	slices.SortFunc(ds, func(a, b Discrepancy) int {
		return cmp.Or(
			cmp.Compare(rank[a.Kind], rank[b.Kind]),
			cmp.Compare(a.CustomerID, b.CustomerID),
			cmp.Compare(a.LedgerRefundID, b.LedgerRefundID),
			slices.Compare(a.GatewayRefundIDs, b.GatewayRefundIDs),
			cmp.Compare(a.ID, b.ID),
		)
	})
}
