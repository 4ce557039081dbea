package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"
)

// In-memory ports: the runner's logic is tested without I/O here; the real
// adapters are tested end to end in cmd/refundrecon.

type memLedger struct{ rows []LedgerRefund }

func (m *memLedger) Refunds(_ context.Context, q LedgerQuery, fn func(LedgerRefund) error) error {
	for _, l := range m.rows {
		var ok bool
		if q.Keyed() {
			ok = slices.Contains(q.IDs, l.ID) || slices.Contains(q.GatewayRefundIDs, l.GatewayRefundID) ||
				slices.Contains(q.ChargeIDs, l.ChargeID) || slices.Contains(q.PaymentIntentIDs, l.PaymentIntentID)
		} else {
			in := func(t time.Time) bool { return !t.IsZero() && !t.Before(q.Since) && !t.After(q.Until) }
			ok = (in(l.CompletedAt) || in(l.CreatedAt)) && (q.CustomerID == "" || q.CustomerID == l.CustomerID)
		}
		if ok {
			if err := fn(l); err != nil {
				return err
			}
		}
	}
	return nil
}

type memGateway struct {
	refunds  []GatewayRefund
	failures []RefundFailure
	charges  map[string][]string // customer -> charges
	listErr  error
	calls    map[string]int
}

func (m *memGateway) call(name string) {
	if m.calls == nil {
		m.calls = map[string]int{}
	}
	m.calls[name]++
}

func (m *memGateway) Refunds(_ context.Context, since, until time.Time, fn func(GatewayRefund) error) error {
	m.call("list")
	for i, g := range m.refunds {
		if i == len(m.refunds)/2 && m.listErr != nil {
			return m.listErr // a listing that broke half way
		}
		if !g.Created.Before(since) && !g.Created.After(until) {
			if err := fn(g); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memGateway) Refund(_ context.Context, id string) (GatewayRefund, error) {
	m.call("retrieve")
	for _, g := range m.refunds {
		if g.ID == id {
			return g, nil
		}
	}
	return GatewayRefund{}, fmt.Errorf("refund %s: %w", id, ErrNotFound)
}

func (m *memGateway) ChargeRefunds(_ context.Context, ch string) ([]GatewayRefund, error) {
	m.call("charge")
	var out []GatewayRefund
	for _, g := range m.refunds {
		if g.ChargeID == ch {
			out = append(out, g)
		}
	}
	return out, nil
}

func (m *memGateway) PaymentIntentRefunds(_ context.Context, pi string) ([]GatewayRefund, error) {
	m.call("intent")
	var out []GatewayRefund
	for _, g := range m.refunds {
		if g.PaymentIntentID == pi {
			out = append(out, g)
		}
	}
	return out, nil
}

func (m *memGateway) RefundFailures(_ context.Context, since, until time.Time, fn func(RefundFailure) error) error {
	m.call("failures")
	for _, f := range m.failures {
		if !f.FailedAt.Before(since) && !f.FailedAt.After(until) {
			if err := fn(f); err != nil {
				return err
			}
		}
	}
	return nil
}

func (m *memGateway) CustomerRefunds(ctx context.Context, c string) ([]string, []GatewayRefund, error) {
	m.call("customer")
	var out []GatewayRefund
	for _, ch := range m.charges[c] {
		for _, g := range m.refunds {
			if g.ChargeID == ch {
				out = append(out, g)
			}
		}
	}
	return m.charges[c], out, nil
}

type memStore struct {
	runs   map[string]Run
	cases  map[string]Discrepancy
	finish int
}

func newMemStore() *memStore {
	return &memStore{runs: map[string]Run{}, cases: map[string]Discrepancy{}}
}

func (m *memStore) StartRun(_ context.Context, r Run) error { m.runs[r.ID] = r; return nil }
func (m *memStore) FailRun(_ context.Context, r Run) error  { m.runs[r.ID] = r; return nil }
func (m *memStore) OpenDiscrepancies(_ context.Context, c string) ([]Discrepancy, error) {
	var out []Discrepancy
	for _, d := range m.cases {
		if d.Status != StatusResolved && (c == "" || d.CustomerID == c) {
			out = append(out, d)
		}
	}
	return out, nil
}

// FinishRun applies what Decide returns; it holds no rule of its own.
func (m *memStore) FinishRun(_ context.Context, r Run, found []Discrepancy, judged map[string]string) (Changes, error) {
	m.finish++
	m.runs[r.ID] = r
	stored := make([]Discrepancy, 0, len(m.cases))
	for _, d := range m.cases {
		stored = append(stored, d)
	}
	ch := Decide(r.FinishedAt, stored, found, judged)
	for _, c := range ch.Changes {
		m.cases[c.Case.ID] = c.Case
	}
	return ch, nil
}

type kindKey struct {
	Kind    Kind
	Ledger  string
	Gateway string
}

func kinds(ds []Discrepancy) []kindKey {
	var out []kindKey
	for _, d := range ds {
		out = append(out, kindKey{d.Kind, d.LedgerRefundID, fmt.Sprint(d.GatewayRefundIDs)})
	}
	sort.Slice(out, func(i, j int) bool { return fmt.Sprint(out[i]) < fmt.Sprint(out[j]) })
	return out
}

func newRunner(l *memLedger, g *memGateway, s *memStore) *Runner {
	return &Runner{Ledger: l, Gateway: g, Store: s, Rules: rules, Now: func() time.Time { return now }}
}

var window = Scope{Since: ago(90 * day24), Until: now}

func TestRunLateFailureAndLookups(t *testing.T) {
	old := ago(200 * day24) // far outside window and margin
	ledger := &memLedger{rows: []LedgerRefund{
		// Succeeded 200 days ago, failed 5 days ago: reported.
		{ID: "lr_late", CustomerID: "cus_1", ChargeID: "ch_late", GatewayRefundID: "re_late", Amount: 100, Currency: "usd",
			Status: LedgerComplete, CreatedAt: old, CompletedAt: old},
		// Completed in the window, its refund created before the window: looked up, fine.
		{ID: "lr_before", CustomerID: "cus_1", ChargeID: "ch_b", GatewayRefundID: "re_before", Amount: 100, Currency: "usd",
			Status: LedgerComplete, CreatedAt: ago(89 * day24), CompletedAt: ago(89 * day24)},
		// No gateway id; its refund lies before the read: found through its charge.
		{ID: "lr_by_charge", CustomerID: "cus_1", ChargeID: "ch_c", Amount: 300, Currency: "usd",
			Status: LedgerComplete, CreatedAt: ago(80 * day24), CompletedAt: ago(80 * day24)},
		// Really missing.
		{ID: "lr_missing", CustomerID: "cus_2", ChargeID: "ch_m", GatewayRefundID: "re_nowhere", Amount: 100, Currency: "usd",
			Status: LedgerComplete, CreatedAt: ago(3 * day24), CompletedAt: ago(3 * day24)},
		// The ledger row of a gateway refund in the window, completed long before: found by key.
		{ID: "lr_old_row", CustomerID: "cus_3", ChargeID: "ch_o", Amount: 700, Currency: "usd",
			Status: LedgerComplete, CreatedAt: old, CompletedAt: old},
	}}
	gateway := &memGateway{
		refunds: []GatewayRefund{
			{ID: "re_late", ChargeID: "ch_late", CustomerID: "cus_1", Amount: 100, Currency: "usd", Status: RefundFailed, FailureReason: "expired_or_canceled_card", Created: old},
			{ID: "re_before", ChargeID: "ch_b", CustomerID: "cus_1", Amount: 100, Currency: "usd", Status: RefundSucceeded, Created: ago(400 * day24)},
			{ID: "re_c", ChargeID: "ch_c", CustomerID: "cus_1", Amount: 300, Currency: "usd", Status: RefundSucceeded, Created: ago(150 * day24)},
			{ID: "re_o", ChargeID: "ch_o", CustomerID: "cus_3", Amount: 700, Currency: "usd", Status: RefundSucceeded, Created: ago(10 * day24), LedgerRefundID: "lr_old_row"},
			{ID: "re_orphan", ChargeID: "ch_x", CustomerID: "cus_4", Amount: 50, Currency: "usd", Status: RefundSucceeded, Created: ago(2 * day24)},
		},
		failures: []RefundFailure{{RefundID: "re_late", FailedAt: ago(5 * day24)}},
	}
	store := newMemStore()
	rep, err := newRunner(ledger, gateway, store).Run(context.Background(), window)
	if err != nil {
		t.Fatal(err)
	}
	got := kinds(rep.Discrepancies)
	want := []kindKey{
		{GatewayFailed, "lr_late", "[re_late]"},
		{MissingAtGateway, "lr_missing", "[]"},
		{MissingInLedger, "", "[re_orphan]"},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", got, want)
	}
	for _, d := range rep.Discrepancies {
		if !d.New || d.Status != StatusOpen {
			t.Errorf("%s: new=%v status=%s", d.Kind, d.New, d.Status)
		}
	}
	if rep.Run.Status != RunSucceeded || rep.Run.Counts.Discrepancies != 3 {
		t.Fatalf("run %+v", rep.Run)
	}

	// The same data again: the same cases, known now.
	rep2, err := newRunner(ledger, gateway, store).Run(context.Background(), window)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(kinds(rep2.Discrepancies)) != fmt.Sprint(want) {
		t.Fatalf("second run differs: %v", kinds(rep2.Discrepancies))
	}
	for i, d := range rep2.Discrepancies {
		if d.New || d.ID != rep.Discrepancies[i].ID {
			t.Errorf("second run: %s new=%v id %s vs %s", d.Kind, d.New, d.ID, rep.Discrepancies[i].ID)
		}
	}
	if len(store.cases) != 3 {
		t.Fatalf("store holds %d cases, want 3", len(store.cases))
	}
}

func TestRunFailsClosed(t *testing.T) {
	ledger := &memLedger{rows: []LedgerRefund{
		{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1", Amount: 100, Currency: "usd",
			Status: LedgerComplete, CreatedAt: ago(3 * day24), CompletedAt: ago(3 * day24)},
	}}
	var refunds []GatewayRefund
	for i := range 10 {
		refunds = append(refunds, GatewayRefund{ID: fmt.Sprintf("re_%d", i), ChargeID: "ch_1", Amount: 100, Currency: "usd",
			Status: RefundSucceeded, Created: ago(time.Duration(i+1) * day24)})
	}
	gateway := &memGateway{refunds: refunds, listErr: errors.New("stripe: 503 after retries")}
	store := newMemStore()
	known := Discrepancy{ID: "dsc_known", Kind: MissingAtGateway, LedgerRefundID: "lr_1", Status: StatusOpen}
	store.cases[known.ID] = known

	rep, err := newRunner(ledger, gateway, store).Run(context.Background(), window)
	if err == nil {
		t.Fatal("run over a broken listing succeeded")
	}
	if rep.Run.Status != RunFailed || rep.Run.Error == "" || len(rep.Discrepancies) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if store.finish != 0 {
		t.Fatal("a failed run recorded discrepancies")
	}
	if got := store.runs[rep.Run.ID]; got.Status != RunFailed {
		t.Fatalf("stored run status %q", got.Status)
	}
	if got := store.cases["dsc_known"]; got.Status != known.Status || got.Kind != known.Kind || len(store.cases) != 1 {
		t.Fatal("a failed run changed a known case")
	}
}

func TestRunResolvesOnlyWhatItCovered(t *testing.T) {
	mk := func(id, cus string) LedgerRefund {
		return LedgerRefund{ID: id, CustomerID: cus, ChargeID: "ch_" + id, GatewayRefundID: "re_" + id, Amount: 100, Currency: "usd",
			Status: LedgerComplete, CreatedAt: ago(3 * day24), CompletedAt: ago(3 * day24)}
	}
	ledger := &memLedger{rows: []LedgerRefund{mk("a", "cus_1"), mk("b", "cus_2")}}
	gateway := &memGateway{charges: map[string][]string{"cus_1": {"ch_a"}}}
	store := newMemStore()
	r := newRunner(ledger, gateway, store)
	rep, err := r.Run(context.Background(), window)
	if err != nil || len(rep.Discrepancies) != 2 {
		t.Fatalf("first run: %v, %v", err, kinds(rep.Discrepancies))
	}
	// Both refunds appear at the gateway.
	for _, id := range []string{"a", "b"} {
		gateway.refunds = append(gateway.refunds, GatewayRefund{ID: "re_" + id, ChargeID: "ch_" + id, Amount: 100, Currency: "usd",
			Status: RefundSucceeded, Created: ago(3 * day24)})
	}
	// A run for cus_1 resolves cus_1's case only.
	rep, err = r.Run(context.Background(), Scope{CustomerID: "cus_1"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Discrepancies) != 0 || len(rep.Resolved) != 1 {
		t.Fatalf("customer run: found %v resolved %v", kinds(rep.Discrepancies), rep.Resolved)
	}
	if d := store.cases[rep.Resolved[0]]; d.LedgerRefundID != "a" || d.Status != StatusResolved {
		t.Fatalf("resolved %+v", d)
	}
	open, _ := store.OpenDiscrepancies(context.Background(), "")
	if len(open) != 1 || open[0].LedgerRefundID != "b" {
		t.Fatalf("open after customer run: %v", kinds(open))
	}
	// A window run resolves the rest.
	rep, err = r.Run(context.Background(), window)
	if err != nil || len(rep.Resolved) != 1 {
		t.Fatalf("window run: %v resolved %v", err, rep.Resolved)
	}
}

func TestRunCustomerWholeHistory(t *testing.T) {
	old := ago(3 * 365 * day24)
	ledger := &memLedger{rows: []LedgerRefund{
		{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", Amount: 100, Currency: "usd", Status: LedgerComplete, CreatedAt: old, CompletedAt: old},
		{ID: "lr_2", CustomerID: "cus_2", ChargeID: "ch_9", Amount: 100, Currency: "usd", Status: LedgerComplete, CreatedAt: old, CompletedAt: old},
	}}
	gateway := &memGateway{
		charges: map[string][]string{"cus_1": {"ch_1", "ch_2"}},
		refunds: []GatewayRefund{
			{ID: "re_1", ChargeID: "ch_1", CustomerID: "cus_1", Amount: 100, Currency: "usd", Status: RefundFailed, Created: old},
			{ID: "re_2", ChargeID: "ch_2", CustomerID: "cus_1", Amount: 40, Currency: "usd", Status: RefundSucceeded, Created: old},
		},
	}
	rep, err := newRunner(ledger, gateway, newMemStore()).Run(context.Background(), Scope{CustomerID: "cus_1"})
	if err != nil {
		t.Fatal(err)
	}
	want := []kindKey{{GatewayFailed, "lr_1", "[re_1]"}, {MissingInLedger, "", "[re_2]"}}
	if fmt.Sprint(kinds(rep.Discrepancies)) != fmt.Sprint(want) {
		t.Fatalf("got %v want %v", kinds(rep.Discrepancies), want)
	}
	// One listing of the customer's charges with their refunds, no charge
	// asked on its own, never the whole account.
	if gateway.calls["list"] != 0 || gateway.calls["customer"] != 1 || gateway.calls["charge"] != 0 {
		t.Fatalf("calls %v: a customer run lists its charges with their refunds, not the whole account", gateway.calls)
	}
}

// Every run judges again each open case of its scope, also outside its
// window: a deleted ledger row resolves its case (the history says so); a
// row set to failed that left the window resolves; a case still a problem
// outside the window stays open, not resolved and reopened.
func TestRunRejudgesOpenCasesOutsideItsWindow(t *testing.T) {
	mk := func(id string, at time.Time) LedgerRefund {
		return LedgerRefund{ID: id, CustomerID: "cus_1", ChargeID: "ch_" + id, GatewayRefundID: "re_" + id, Amount: 100,
			Currency: "usd", Status: LedgerComplete, CreatedAt: at, CompletedAt: at}
	}
	failedAt := func(id string, at time.Time) GatewayRefund {
		return GatewayRefund{ID: "re_" + id, ChargeID: "ch_" + id, Amount: 100, Currency: "usd", Status: RefundFailed,
			FailureReason: "expired_or_canceled_card", Created: at, FailedAt: at}
	}
	t1 := ago(3 * day24)
	ledger := &memLedger{rows: []LedgerRefund{mk("deleted", t1), mk("fixed", t1), mk("persists", t1)}}
	gateway := &memGateway{refunds: []GatewayRefund{failedAt("deleted", t1), failedAt("fixed", t1), failedAt("persists", t1)}}
	store := newMemStore()
	r := newRunner(ledger, gateway, store)
	rep, err := r.Run(context.Background(), window)
	if err != nil || len(rep.Discrepancies) != 3 {
		t.Fatalf("first run: %v, %v", err, kinds(rep.Discrepancies))
	}
	ids := map[string]string{}
	for _, d := range rep.Discrepancies {
		ids[d.LedgerRefundID] = d.ID
	}

	// A year later every row lies far outside the window and its margin.
	// One row was deleted, one set to failed, one still says complete.
	ledger.rows = []LedgerRefund{mk("persists", t1), mk("fixed", t1)}
	ledger.rows[1].Status = LedgerFailed
	later := Scope{Since: now.Add(300 * day24), Until: now.Add(365 * day24)}
	r.Now = func() time.Time { return later.Until }
	rep, err = r.Run(context.Background(), later)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(rep.Resolved)
	want := []string{ids["deleted"], ids["fixed"]}
	slices.Sort(want)
	if !slices.Equal(rep.Resolved, want) {
		t.Fatalf("resolved %v, want the deleted row's and the fixed row's cases %v", rep.Resolved, want)
	}
	if len(rep.Discrepancies) != 1 || rep.Discrepancies[0].ID != ids["persists"] || rep.Discrepancies[0].New ||
		rep.Discrepancies[0].Status != StatusOpen {
		t.Fatalf("found %+v, want the persisting case, known and open", rep.Discrepancies)
	}
	if d := store.cases[ids["persists"]]; d.Status != StatusOpen {
		t.Fatalf("the persisting case is %s", d.Status)
	}
	for _, id := range want {
		if d := store.cases[id]; d.Status != StatusResolved {
			t.Fatalf("case %s is %s, want resolved", id, d.Status)
		}
	}
}

// An id-less invalid row is judged by the run's read: fixed inside it, its
// case resolves; lying outside it, its case is left alone (no false
// all-clear for a row the run did not read).
func TestRunResolvesFixedIDlessRowsItRead(t *testing.T) {
	row := func(at time.Time) LedgerRefund {
		return LedgerRefund{CustomerID: "cus_1", ChargeID: "ch_x", Amount: -100, Currency: "usd", Status: LedgerComplete,
			CreatedAt: at, CompletedAt: at}
	}
	recent, old := row(ago(3*day24)), row(ago(400*day24))
	ledger := &memLedger{rows: []LedgerRefund{recent}}
	store := newMemStore()
	r := newRunner(ledger, &memGateway{}, store)
	// The old row is found by a whole-history check of its customer.
	ledger.rows = append(ledger.rows, old)
	rep, err := r.Run(context.Background(), Scope{CustomerID: "cus_1"})
	if err != nil || len(rep.Discrepancies) != 2 {
		t.Fatalf("first run: %v %v", err, kinds(rep.Discrepancies))
	}
	// Both rows are fixed (they get an id); a window run reads the recent
	// one only.
	ledger.rows = nil
	rep, err = r.Run(context.Background(), window)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Resolved) != 1 {
		t.Fatalf("resolved %v, want the recent row's case only", rep.Resolved)
	}
	if d := store.cases[rep.Resolved[0]]; d.Kind != InvalidLedgerRow || d.LedgerRefundID != "" {
		t.Fatalf("resolved %+v", d)
	}
	// The customer's whole-history check reads it: resolved too.
	rep, err = r.Run(context.Background(), Scope{CustomerID: "cus_1"})
	if err != nil || len(rep.Resolved) != 1 {
		t.Fatalf("customer check: %v resolved %v", err, rep.Resolved)
	}
}

// staleListing lists refunds as they were (a copy kept between runs) while
// a look-up by id answers them as they are now.
type staleListing struct {
	*memGateway
	listed []GatewayRefund
}

func (s staleListing) Refunds(_ context.Context, since, until time.Time, fn func(GatewayRefund) error) error {
	for _, g := range s.listed {
		if err := fn(g); err != nil {
			return err
		}
	}
	return nil
}

// A refund_failure the gateway reports for a refund the run holds as
// succeeded (a stale copy) is judged on the refund as it is now: never a
// false all-clear from a stale listing.
func TestRefundFailureOverridesAStaleListing(t *testing.T) {
	created, failed := ago(10*day24), ago(day24)
	g := GatewayRefund{ID: "re_1", ChargeID: "ch_1", Amount: 4500, Currency: "usd", Status: RefundSucceeded, Created: created}
	now := g
	now.Status, now.FailureReason = RefundFailed, "expired_or_canceled_card"
	live := &memGateway{refunds: []GatewayRefund{now}, failures: []RefundFailure{{RefundID: "re_1", FailedAt: failed}}}
	ledger := &memLedger{rows: []LedgerRefund{{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1",
		Amount: 4500, Currency: "usd", Status: LedgerComplete, CreatedAt: created, CompletedAt: created}}}
	r := newRunner(ledger, live, newMemStore())
	r.Gateway = staleListing{memGateway: live, listed: []GatewayRefund{g}}
	rep, err := r.Run(context.Background(), window)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Discrepancies) != 1 || rep.Discrepancies[0].Kind != GatewayFailed || !rep.Discrepancies[0].ProblemSince.Equal(failed) {
		t.Fatalf("got %v, want one gateway_failed since %v", rep.Discrepancies, failed)
	}
}
