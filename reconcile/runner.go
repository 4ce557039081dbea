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

// sides holds what a run read, and grows as look-ups find more. Both sides
// live in compact tables that share one string arena (table.go): a run over
// a million refunds a side holds them in a few hundred megabytes, not
// gigabytes.
type sides struct {
	scope  Scope
	strs   *strTable
	ledger ledgerTable
	// ledgerIDs are the (string ids of the) ids of the ledger rows held,
	// sorted, built by the first look-up; laterIDs those added since.
	ledgerIDs []strID
	laterIDs  map[strID]bool
	// unnamed holds the rows without an id, to tell look-up results apart.
	unnamed map[LedgerRefund]bool
	gateway gatewayTable
	gwIndex idMap // (string id of) a refund id -> its index
	// customerCharges are the charges of scope.CustomerID, when set.
	customerCharges map[string]bool
	// arns are the card network references of a customer check's refunds,
	// by refund id, for its verdict (the compact table keeps none).
	arns map[string]string
	// rejudge: the open cases' subjects, judged again (rejudge.go).
	rejudge rejudge
	// openCases counts the scope's unresolved cases.
	openCases int
}

func newSides(scope Scope) *sides {
	strs := newStrTable()
	return &sides{scope: scope, strs: strs, ledger: ledgerTable{strs: strs}, gateway: gatewayTable{strs: strs},
		unnamed: map[LedgerRefund]bool{}}
}

// gatewayIndex returns the index of the refund with id, if held.
func (s *sides) gatewayIndex(id string) (int, bool) {
	sid, ok := s.strs.lookup(id)
	if !ok {
		return 0, false
	}
	j, ok := s.gwIndex.get(sid)
	return int(j), ok
}

// gatewayOf returns the classifier's view of the refunds matched:
// the refunds read back into scratch, indexed 0, 1, ….
func (s *sides) gatewayOf(matched []int32, scratch []GatewayRefund, local []int32) ([]GatewayRefund, []int32) {
	scratch, local = scratch[:0], local[:0]
	for k, j := range matched {
		scratch = append(scratch, s.gateway.at(int(j)))
		local = append(local, int32(k))
	}
	return scratch, local
}

// addLedger adds a row. A row of the run's own read is always kept (a
// duplicated row is the ledger's, and is judged); a look-up's row only when
// the run does not hold it yet.
//
// A status in another letter case is held in lower case (COMPLETE is
// complete), so every rule compares one form.
func (s *sides) addLedger(l LedgerRefund, lookup bool) bool {
	l.Status = l.Status.Normal()
	if l.ID != "" {
		if lookup && s.ledgerHeld(l.ID) {
			return false
		}
		s.ledger.add(l)
		if s.laterIDs != nil {
			s.laterIDs[s.ledger.rec(s.ledger.len()-1).id] = true
		}
		return true
	} else {
		if lookup && s.unnamed[l] {
			return false
		}
		s.unnamed[l] = true
	}
	s.ledger.add(l)
	return true
}

// ledgerHeld reports whether a ledger row with id is held.
func (s *sides) ledgerHeld(id string) bool {
	if s.laterIDs == nil {
		s.ledgerIDs = make([]strID, 0, s.ledger.len())
		for i := range s.ledger.len() {
			if r := s.ledger.rec(i); r.id != 0 {
				s.ledgerIDs = append(s.ledgerIDs, r.id)
			}
		}
		slices.Sort(s.ledgerIDs)
		s.laterIDs = map[strID]bool{}
	}
	sid, ok := s.strs.lookup(id)
	if !ok {
		return false
	}
	_, found := slices.BinarySearch(s.ledgerIDs, sid)
	return found || s.laterIDs[sid]
}

func (s *sides) addGateway(g GatewayRefund) bool {
	if _, ok := s.gatewayIndex(g.ID); ok {
		return false
	}
	if g.ARN != "" && s.scope.CustomerID != "" {
		if s.arns == nil {
			s.arns = map[string]string{}
		}
		s.arns[g.ID] = g.ARN
	}
	s.gateway.add(g)
	j := s.gateway.len() - 1
	s.gwIndex.put(s.gateway.rec(j).id, int32(j))
	return true
}

// gatewayInScope: created inside the window, and the customer's when the
// run is for one customer.
func (s *sides) gatewayInScope(g *GatewayRefund) bool {
	return (s.scope.Contains(g.Created) || s.rejudge.hasGateway(g.ID)) && s.gatewayOfCustomer(g)
}

func (s *sides) gatewayOfCustomer(g *GatewayRefund) bool {
	c := s.scope.CustomerID
	if c == "" {
		return true
	}
	if g.CustomerID != "" {
		return g.CustomerID == c
	}
	return s.customerCharges[g.ChargeID]
}

// ledgerInScope: completed (not complete: created) inside the window, or
// without any timestamp (such a row is in every window), or matched to a
// refund the gateway failed inside it; and the customer's (by the ledger or
// by a matched charge) when the run is for one customer.
func (s *sides) ledgerInScope(l *LedgerRefund, matched []int32) bool {
	if s.rejudge.hasLedger(l.ID) {
		return true // an open case's row, judged again wherever it lies
	}
	if s.scope.CustomerID != "" && l.CustomerID != s.scope.CustomerID {
		ok := false
		for _, j := range matched {
			if g := s.gateway.at(int(j)); g.CustomerID == s.scope.CustomerID {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if l.inWindow(s.scope) {
		return true
	}
	for _, j := range matched {
		if f := s.gateway.at(int(j)).FailedAt; !f.IsZero() && s.scope.Contains(f) {
			return true
		}
	}
	return false
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
	start := time.Now()
	err := r.Ledger.Refunds(ctx, LedgerQuery{Since: from, Until: to, CustomerID: scope.CustomerID}, func(l LedgerRefund) error {
		s.addLedger(l, false)
		return nil
	})
	t.Ledger += time.Since(start)
	if err != nil {
		return Report{Timings: t}, fmt.Errorf("read ledger: %w", err)
	}
	log.Debug("ledger read", "ledger_refunds", s.ledger.len(), "elapsed", t.Ledger)

	// The open cases of the scope: a customer who has some is not "nothing
	// found" even when their rows and charges are gone.
	start = time.Now()
	open, err := r.Store.OpenDiscrepancies(ctx, scope.CustomerID)
	t.Store += time.Since(start)
	if err != nil {
		return Report{Timings: t}, fmt.Errorf("load open discrepancies: %w", err)
	}
	s.openCases = len(open)

	// The gateway side: the window's listing, or a customer's charges.
	r.progress(Progress{Phase: PhaseGateway, LedgerRefunds: s.ledger.len()})
	start = time.Now()
	err = r.fetchGateway(ctx, s, from, to)
	t.Gateway += time.Since(start)
	if err != nil {
		return Report{Timings: t}, err
	}
	log.Debug("gateway read", "gateway_refunds", s.gateway.len(), "elapsed", t.Gateway)

	// The open cases of the scope are judged again by direct look-ups of
	// what the reads did not return (rejudge.go).
	start = time.Now()
	err = r.loadRejudged(ctx, s, open)
	t.Gateway += time.Since(start)
	if err != nil {
		return Report{Timings: t}, err
	}

	r.progress(Progress{Phase: PhaseCheck, LedgerRefunds: s.ledger.len(), GatewayRefunds: s.gateway.len()})
	start = time.Now()
	m := matchTables(&s.ledger, &s.gateway, &s.gwIndex)
	t.Match += time.Since(start)

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
		start = time.Now()
		added := 0
		err := r.Ledger.Refunds(ctx, compactQuery(q), func(l LedgerRefund) error {
			if s.addLedger(l, true) {
				added++
			}
			return nil
		})
		t.Ledger += time.Since(start)
		if err != nil {
			return Report{Timings: t}, fmt.Errorf("look up ledger refunds: %w", err)
		}
		log.Debug("ledger look-ups", "keys", len(q.GatewayRefundIDs), "added", added)
		if added > 0 {
			start = time.Now()
			m = matchTables(&s.ledger, &s.gateway, &s.gwIndex)
			t.Match += time.Since(start)
		}
	}

	// Confirm every refund that looks missing at the gateway by asking for
	// the refunds of its charge or payment intent: they may lie outside the
	// listing's window.
	start = time.Now()
	added, err := r.confirmMissing(ctx, s, m, now)
	t.Gateway += time.Since(start)
	if err != nil {
		return Report{Timings: t}, err
	}
	if added {
		start = time.Now()
		m = matchTables(&s.ledger, &s.gateway, &s.gwIndex)
		t.Match += time.Since(start)
	}

	start = time.Now()
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
	t.Match += time.Since(start)

	// Record what Decide makes of the cases found and judged again.
	start = time.Now()
	run.Status, run.Counts, run.FinishedAt = RunSucceeded, counts, r.now()
	changes, err := r.finish(ctx, run, found, s.judged(open, from, to))
	t.Store += time.Since(start)
	if err != nil {
		return Report{Timings: t}, fmt.Errorf("record run: %w", err)
	}
	saved := changes.Cases
	SortDiscrepancies(saved)
	withARNs(outcomes, s.arns)
	return Report{Run: *run, Discrepancies: saved, Resolved: changes.Resolved, Timings: t, Refunds: outcomes}, nil
}

// fetchGateway reads the gateway side of the scope.
func (r *Runner) fetchGateway(ctx context.Context, s *sides, from, to time.Time) error {
	scope := s.scope
	add := func(g GatewayRefund) error {
		s.addGateway(g)
		r.progress(Progress{Phase: PhaseGateway, LedgerRefunds: s.ledger.len(), GatewayRefunds: s.gateway.len()})
		return nil
	}
	if scope.CustomerID == "" {
		if err := r.Gateway.Refunds(ctx, from, to, add); err != nil {
			return fmt.Errorf("list gateway refunds: %w", err)
		}
	} else {
		// A customer's refunds: those of every charge of theirs (listed
		// with their refunds in one go) and of every charge their ledger
		// rows name, whatever the status (a charge whose refund failed
		// shows nothing refunded).
		charges, refunds, err := r.Gateway.CustomerRefunds(ctx, scope.CustomerID)
		if err != nil {
			return fmt.Errorf("list customer charges: %w", err)
		}
		if len(charges) == 0 && s.ledger.len() == 0 && s.openCases == 0 {
			// Not "no problem found": nothing of this customer exists.
			return fmt.Errorf("customer %s: no charges at the gateway and no ledger refunds: %w", scope.CustomerID, ErrNothingFound)
		}
		s.customerCharges = make(map[string]bool, len(charges))
		for _, c := range charges {
			s.customerCharges[c] = true
		}
		for _, g := range refunds {
			s.addGateway(g)
		}
		var intents []string
		named := map[string]bool{}
		for _, l := range s.ledger.all() {
			// A value that cannot be a Stripe id (oversized, not text) makes
			// its row invalid; it is never sent to Stripe.
			if l.ChargeID != "" && shortText(l.ChargeID) {
				named[l.ChargeID] = true
			} else if l.PaymentIntentID != "" && shortText(l.PaymentIntentID) && !slices.Contains(intents, l.PaymentIntentID) {
				intents = append(intents, l.PaymentIntentID)
			}
		}
		var others []string
		for c := range named {
			if !s.customerCharges[c] {
				others = append(others, c)
			}
		}
		slices.Sort(others)
		lists, err := r.chargesRefunds(ctx, others)
		if err != nil {
			return err
		}
		for _, refunds := range lists {
			for _, g := range refunds {
				s.addGateway(g)
			}
		}
		for _, pi := range intents {
			refunds, err := r.Gateway.PaymentIntentRefunds(ctx, pi)
			if errors.Is(err, ErrNotFound) {
				continue // no such payment intent: nothing refunded
			}
			if err != nil {
				return fmt.Errorf("list refunds of payment intent %s: %w", pi, err)
			}
			for _, g := range refunds {
				s.addGateway(g)
			}
		}
	}

	// Refunds the gateway failed inside the window, however old: Stripe
	// keeps refund_failure balance transactions for good. A whole-history
	// check sweeps from its oldest failed refund, to say when each failed.
	sweepFrom := scope.Since
	if sweepFrom.IsZero() {
		for _, g := range s.gateway.all() {
			if g.Status == RefundFailed && (sweepFrom.IsZero() || g.Created.Before(sweepFrom)) {
				sweepFrom = g.Created
			}
		}
	}
	if !sweepFrom.IsZero() {
		var failures []RefundFailure
		err := r.Gateway.RefundFailures(ctx, sweepFrom, scope.Until, func(f RefundFailure) error {
			failures = append(failures, f)
			return nil
		})
		if err != nil {
			return fmt.Errorf("list refund failures: %w", err)
		}
		for _, f := range failures {
			j, ok := s.gatewayIndex(f.RefundID)
			if !ok {
				if scope.CustomerID != "" {
					continue // not a refund of this customer's charges
				}
				g, err := r.Gateway.Refund(ctx, f.RefundID)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return fmt.Errorf("look up failed refund %s: %w", f.RefundID, err)
				}
				s.addGateway(g)
				j, _ = s.gatewayIndex(g.ID)
			}
			if g := s.gateway.at(j); f.FailedAt.After(g.FailedAt) {
				s.gateway.setFailedAt(j, f.FailedAt)
			}
		}
	}

	// Every recorded gateway refund id the listing did not return is looked
	// up directly: a refund created before the window is not missing.
	looked := map[string]bool{}
	for i := 0; i < s.ledger.len(); i++ {
		l := s.ledger.at(i)
		id := l.GatewayRefundID
		if id == "" || looked[id] || !shortText(id) || !l.inWindow(scope) {
			continue
		}
		if _, ok := s.gatewayIndex(id); ok {
			continue
		}
		looked[id] = true
		g, err := r.Gateway.Refund(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("look up gateway refund %s: %w", id, err)
		}
		s.addGateway(g)
	}
	return nil
}

// confirmMissing looks up the refunds of the charge or payment intent of
// every in-scope ledger refund that would be missing_at_gateway. It reports
// whether it found refunds the run did not hold.
func (r *Runner) confirmMissing(ctx context.Context, s *sides, m matching, now time.Time) (bool, error) {
	added := false
	lookedCharge, lookedIntent := map[string]bool{}, map[string]bool{}
	for i := range s.ledger.len() {
		if len(m.of(i)) > 0 {
			continue
		}
		lv := s.ledger.at(i)
		l := &lv
		if l.Status != LedgerComplete || now.Sub(l.CompletedAt) <= r.Rules.Grace ||
			!s.ledgerInScope(l, nil) || len(l.Problems(r.Rules.ValidCurrency)) > 0 {
			continue
		}
		var refunds []GatewayRefund
		var err error
		switch {
		case l.ChargeID != "":
			if lookedCharge[l.ChargeID] {
				continue
			}
			lookedCharge[l.ChargeID] = true
			refunds, err = r.Gateway.ChargeRefunds(ctx, l.ChargeID)
		case l.PaymentIntentID != "":
			if lookedIntent[l.PaymentIntentID] {
				continue
			}
			lookedIntent[l.PaymentIntentID] = true
			refunds, err = r.Gateway.PaymentIntentRefunds(ctx, l.PaymentIntentID)
		default:
			continue
		}
		if errors.Is(err, ErrNotFound) {
			continue // the charge itself does not exist: nothing was refunded
		}
		if err != nil {
			return added, fmt.Errorf("confirm refund %s missing at gateway: %w", l.ID, err)
		}
		for _, g := range refunds {
			if s.addGateway(g) {
				added = true
			}
		}
	}
	return added, nil
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
