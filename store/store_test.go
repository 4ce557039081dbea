package store_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// backend is one database the conformance suite runs against.
type backend struct {
	name string
	// open returns a migrated store, ledger table included.
	open func(testing.TB) *store.DB
	// url returns the URL of an empty database.
	url func(testing.TB) string
}

var backends = []backend{
	{store.DialectPostgres, storetest.Postgres, storetest.PostgresURL},
	{store.DialectSQLite, storetest.SQLite, storetest.SQLiteURL},
}

// TestConformance runs the one suite against PostgreSQL and SQLite.
func TestConformance(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			conformance(t, b)
		})
	}
}

func conformance(t *testing.T, b backend) {
	tests := []struct {
		name string
		fn   func(*testing.T, backend)
	}{
		{"MigrateTwice", testMigrateTwice},
		{"ConcurrentMigrate", testConcurrentMigrate},
		{"RunRoundTrip", testRunRoundTrip},
		{"FailRunTouchesNoDiscrepancy", testFailRun},
		{"UpsertLifecycle", testUpsertLifecycle},
		{"FieldsRoundTrip", testFieldsRoundTrip},
		{"FoundEdgeCases", testFoundEdgeCases},
		{"OpenDiscrepanciesByCustomer", testOpenByCustomer},
		{"SubSecondOrdering", testSubSecondOrdering},
		{"ManyDiscrepancies", testManyDiscrepancies},
		{"NotFound", testNotFound},
		{"LedgerWindow", testLedgerWindow},
		{"LedgerCustomer", testLedgerCustomer},
		{"LedgerKeyed", testLedgerKeyed},
		{"LedgerKeyedBatches", testLedgerKeyedBatches},
		{"LedgerMessyRows", testLedgerMessyRows},
		{"LedgerRowsWithoutTimestamps", testLedgerRowsWithoutTimestamps},
		{"LedgerHugeValues", testLedgerHugeValues},
		{"LedgerCustomQuery", testLedgerCustomQuery},
		{"LedgerMissingColumn", testLedgerMissingColumn},
		{"LedgerUnknownParameter", testLedgerUnknownParameter},
		{"LedgerCallbackError", testLedgerCallbackError},
		{"LedgerCanceled", testLedgerCanceled},
		{"InsertLedgerRefundsRoundTrip", testInsertLedgerRoundTrip},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, b)
		})
	}
}

// ctxFor is t's context for store calls: it ends near go test's -timeout,
// never after a fixed time (a loaded machine once took 126 s for
// ManyDiscrepancies' FinishRun against a 2-minute budget).
func ctxFor(t *testing.T) context.Context {
	ctx, cancel := storetest.Context(t)
	t.Cleanup(cancel)
	return ctx
}

// ts is a fixed instant with sub-second digits, plus d.
func ts(d time.Duration) time.Time {
	return time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC).Add(d)
}

func count(t *testing.T, db *store.DB, query string, args ...any) int {
	t.Helper()
	var n int
	if err := db.SQLX().GetContext(context.Background(), &n, db.SQLX().Rebind(query), args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
	return n
}

func testMigrateTwice(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := storetest.Open(t, b.url(t))
	for i := range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate #%d: %v", i+1, err)
		}
		if err := db.MigrateLedger(ctx); err != nil {
			t.Fatalf("MigrateLedger #%d: %v", i+1, err)
		}
	}
	// goose records version 0 and each applied version once.
	if n, want := count(t, db, "SELECT COUNT(*) FROM refundrecon_schema_migrations WHERE version_id > 0"), migrationFiles(t, b.name); n != want {
		t.Errorf("store migrations recorded %d times, want %d (one per file)", n, want)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM refundrecon_ledger_migrations WHERE version_id > 0"); n != 1 {
		t.Errorf("ledger migrations recorded %d times, want 1", n)
	}
	for _, table := range []string{"runs", "discrepancies", "discrepancy_events", "ledger_refunds"} {
		count(t, db, "SELECT COUNT(*) FROM "+table)
	}
}

func testConcurrentMigrate(t *testing.T, b backend) {
	if b.name != store.DialectPostgres {
		t.Skip("concurrent migration across processes is guarded on PostgreSQL only")
	}
	ctx := ctxFor(t)
	u := b.url(t)
	const n = 4
	dbs := make([]*store.DB, n)
	for i := range dbs {
		dbs[i] = storetest.Open(t, u)
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i, db := range dbs {
		wg.Go(func() {
			if err := db.Migrate(ctx); err != nil {
				errs[i] = err
				return
			}
			errs[i] = db.MigrateLedger(ctx)
		})
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("migration %d: %v", i, err)
		}
	}
	if n, want := count(t, dbs[0], "SELECT COUNT(*) FROM refundrecon_schema_migrations WHERE version_id > 0"), migrationFiles(t, store.DialectPostgres); n != want {
		t.Errorf("store migrations recorded %d times, want %d (one per file)", n, want)
	}
	if n := count(t, dbs[0], "SELECT COUNT(*) FROM refundrecon_ledger_migrations WHERE version_id > 0"); n != 1 {
		t.Errorf("ledger migrations recorded %d times, want 1", n)
	}
}

func newRun(id string, start time.Time) reconcile.Run {
	return reconcile.Run{
		ID:        id,
		Scope:     reconcile.Scope{Since: start.Add(-90 * 24 * time.Hour), Until: start},
		StartedAt: start,
		Status:    reconcile.RunRunning,
	}
}

// finish starts and finishes a run at finished. resolved names the cases
// the run judged again without finding them.
func finish(t *testing.T, db *store.DB, id string, finished time.Time, found []reconcile.Discrepancy, resolved ...string) []reconcile.Discrepancy {
	t.Helper()
	ctx := ctxFor(t)
	run := newRun(id, finished.Add(-time.Second))
	if err := db.StartRun(ctx, run); err != nil {
		t.Fatalf("StartRun %s: %v", id, err)
	}
	run.FinishedAt = finished
	run.Status = reconcile.RunSucceeded
	run.Counts.Discrepancies = len(found)
	ch, err := db.FinishRun(ctx, run, found, judgedOf(t, db, resolved...))
	if err != nil {
		t.Fatalf("FinishRun %s: %v", id, err)
	}
	subjects := map[string]bool{}
	for i := range found {
		subjects[found[i].Fingerprint()] = true
	}
	if len(ch.Cases) != len(subjects) {
		t.Fatalf("FinishRun %s returned %d discrepancies, want %d", id, len(ch.Cases), len(subjects))
	}
	return ch.Cases
}

// judgedOf is the judged subjects of the stored cases ids name, for
// FinishRun; an unknown id is left out.
func judgedOf(t testing.TB, db *store.DB, ids ...string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, id := range ids {
		d, err := db.Discrepancy(context.Background(), id)
		if errors.Is(err, reconcile.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		out[d.Fingerprint()] = reconcile.ReasonNoLongerFound
	}
	return out
}

func ptr(n int64) *int64 { return &n }

func disc(kind reconcile.Kind, ledgerID, customer string, gateway ...string) reconcile.Discrepancy {
	d := reconcile.Discrepancy{
		Kind:             kind,
		CustomerID:       customer,
		LedgerRefundID:   ledgerID,
		GatewayRefundIDs: gateway,
		ChargeID:         "ch_" + ledgerID,
		Currency:         "usd",
		LedgerAmount:     ptr(4500),
		GatewayAmount:    ptr(4500),
		GatewayStatus:    reconcile.RefundFailed,
		FailureReason:    "expired_or_canceled_card",
		Detail:           "the gateway failed the refund",
	}
	d.ID = reconcile.DiscrepancyID(d.Fingerprint())
	return d
}

func sameTime(a, b time.Time) bool {
	return a.Equal(b) && a.Location() == time.UTC && b.Location() == time.UTC
}

func testRunRoundTrip(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	run := reconcile.Run{
		ID:        "run_1",
		Scope:     reconcile.Scope{Since: ts(-time.Hour), Until: ts(0), CustomerID: "cus_1"},
		StartedAt: ts(time.Second),
		Status:    reconcile.RunRunning,
	}
	if err := db.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	if err := db.StartRun(ctx, run); err == nil {
		t.Error("StartRun of a recorded id succeeded; want an error")
	}
	got, err := db.Run(ctx, "run_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != reconcile.RunRunning || got.Scope.CustomerID != "cus_1" ||
		!sameTime(got.Scope.Since, run.Scope.Since) || !sameTime(got.Scope.Until, run.Scope.Until) ||
		!sameTime(got.StartedAt, run.StartedAt) || !got.FinishedAt.IsZero() {
		t.Errorf("started run = %+v, want %+v", got, run)
	}

	run.FinishedAt = ts(2*time.Second + 123456*time.Nanosecond) // nanoseconds are dropped
	run.Status = reconcile.RunSucceeded
	run.Counts = reconcile.Counts{LedgerRefunds: 10, GatewayRefunds: 11, Matched: 9, Discrepancies: 2}
	if _, err := db.FinishRun(ctx, run, nil, nil); err != nil {
		t.Fatal(err)
	}
	got, err = db.Run(ctx, "run_1")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != reconcile.RunSucceeded || got.Counts != run.Counts ||
		!sameTime(got.FinishedAt, run.FinishedAt.Truncate(time.Microsecond)) {
		t.Errorf("finished run = %+v, want %+v", got, run)
	}

	// A whole-history run of every customer keeps a zero Since and no customer.
	all := reconcile.Run{ID: "run_2", Scope: reconcile.Scope{Until: ts(0)}, StartedAt: ts(0)}
	if err := db.StartRun(ctx, all); err != nil {
		t.Fatal(err)
	}
	all.FinishedAt = ts(time.Minute)
	all.Error = "list stripe refunds: boom"
	if err := db.FailRun(ctx, all); err != nil {
		t.Fatal(err)
	}
	got, err = db.Run(ctx, "run_2")
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != reconcile.RunFailed || got.Error != all.Error || !got.Scope.Since.IsZero() ||
		got.Scope.CustomerID != "" || !sameTime(got.FinishedAt, all.FinishedAt) {
		t.Errorf("failed run = %+v", got)
	}

	// FailRun records a run StartRun never saw.
	if err := db.FailRun(ctx, reconcile.Run{ID: "run_3", StartedAt: ts(0), Error: "early"}); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Run(ctx, "run_3"); err != nil || got.Status != reconcile.RunFailed || got.FinishedAt.IsZero() {
		t.Errorf("Run(run_3) = %+v, %v; want failed with a finish time", got, err)
	}
}

func testFailRun(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	d := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d})
	before, err := db.Discrepancy(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	run := newRun("run_2", ts(time.Hour))
	if err := db.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.FinishedAt, run.Error = ts(2*time.Hour), "boom"
	if err := db.FailRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	after, err := db.Discrepancy(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !equalDiscrepancy(before, after) {
		t.Errorf("FailRun changed a discrepancy:\nbefore %+v\nafter  %+v", before, after)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM discrepancy_events WHERE run_id = ?", "run_2"); n != 0 {
		t.Errorf("FailRun wrote %d events", n)
	}
}

func equalDiscrepancy(a, b reconcile.Discrepancy) bool {
	eqAmount := func(x, y *int64) bool { return (x == nil) == (y == nil) && (x == nil || *x == *y) }
	return a.ID == b.ID && a.Kind == b.Kind && a.Status == b.Status && a.New == b.New &&
		a.CustomerID == b.CustomerID && a.LedgerRefundID == b.LedgerRefundID &&
		slices.Equal(a.GatewayRefundIDs, b.GatewayRefundIDs) && (a.GatewayRefundIDs == nil) == (b.GatewayRefundIDs == nil) &&
		a.ChargeID == b.ChargeID && a.Currency == b.Currency &&
		eqAmount(a.LedgerAmount, b.LedgerAmount) && eqAmount(a.GatewayAmount, b.GatewayAmount) &&
		a.GatewayStatus == b.GatewayStatus && a.FailureReason == b.FailureReason && a.Detail == b.Detail &&
		a.FirstSeenAt.Equal(b.FirstSeenAt) && a.LastSeenAt.Equal(b.LastSeenAt)
}

type wantEvent struct {
	action   string
	from, to reconcile.Status
	runID    string
}

func checkEvents(t *testing.T, db *store.DB, id string, want ...wantEvent) {
	t.Helper()
	events, err := db.Events(ctxFor(t), id)
	if err != nil {
		t.Fatal(err)
	}
	var got []wantEvent
	for _, e := range events {
		got = append(got, wantEvent{e.Action, e.FromStatus, e.ToStatus, e.RunID})
		if e.Actor != store.RunActor || e.DiscrepancyID != id || e.At.IsZero() {
			t.Errorf("event %+v: want actor %q, discrepancy %s and a time", e, store.RunActor, id)
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("events of %s = %+v, want %+v", id, got, want)
	}
}

func testUpsertLifecycle(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	a := disc(reconcile.GatewayFailed, "lr_a", "cus_1", "re_a")
	c := disc(reconcile.MissingAtGateway, "lr_c", "cus_1")
	t1, t2, t3, t4, t5 := ts(0), ts(time.Hour), ts(2*time.Hour), ts(3*time.Hour), ts(4*time.Hour)

	// Run 1: both are new.
	out := finish(t, db, "run_1", t1, []reconcile.Discrepancy{a, c})
	for _, d := range out {
		if !d.New || d.Status != reconcile.StatusOpen || !sameTime(d.FirstSeenAt, t1) || !sameTime(d.LastSeenAt, t1) {
			t.Errorf("run 1: %s = new %v status %s first %v last %v; want new open at %v", d.ID, d.New, d.Status, d.FirstSeenAt, d.LastSeenAt, t1)
		}
	}

	// Run 2: a again with new details, c resolved.
	a2 := a
	a2.Detail, a2.GatewayAmount, a2.GatewayStatus = "now canceled", ptr(4000), reconcile.RefundCanceled
	out = finish(t, db, "run_2", t2, []reconcile.Discrepancy{a2}, c.ID)
	if d := out[0]; d.New || d.Status != reconcile.StatusOpen || !sameTime(d.FirstSeenAt, t1) || !sameTime(d.LastSeenAt, t2) {
		t.Errorf("run 2: a = new %v status %s first %v last %v; want known, open, first %v, last %v", d.New, d.Status, d.FirstSeenAt, d.LastSeenAt, t1, t2)
	}
	stored, err := db.Discrepancy(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if stored.Detail != "now canceled" || *stored.GatewayAmount != 4000 || stored.GatewayStatus != reconcile.RefundCanceled {
		t.Errorf("run 2 did not refresh a: %+v", stored)
	}
	if got, err := db.Discrepancy(ctx, c.ID); err != nil || got.Status != reconcile.StatusResolved {
		t.Errorf("run 2: c = %+v, %v; want resolved", got, err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM discrepancies WHERE id = ? AND resolved_at IS NOT NULL AND last_run_id = ?", c.ID, "run_1"); n != 1 {
		t.Errorf("run 2: c has no resolved_at, or its last run changed")
	}

	// A person acknowledges a; a run that sees it again keeps that.
	if _, err := db.SQLX().ExecContext(ctx, db.SQLX().Rebind("UPDATE discrepancies SET status = 'acknowledged' WHERE id = ?"), a.ID); err != nil {
		t.Fatal(err)
	}
	out = finish(t, db, "run_3", t3, []reconcile.Discrepancy{a})
	if d := out[0]; d.New || d.Status != reconcile.StatusAcknowledged || !sameTime(d.LastSeenAt, t3) {
		t.Errorf("run 3: a = new %v status %s; want known and acknowledged", d.New, d.Status)
	}

	// Run 4: c is back: reopened, not new, first seen still t1.
	out = finish(t, db, "run_4", t4, []reconcile.Discrepancy{c})
	if d := out[0]; d.New || d.Status != reconcile.StatusOpen || !sameTime(d.FirstSeenAt, t1) || !sameTime(d.LastSeenAt, t4) {
		t.Errorf("run 4: c = new %v status %s first %v; want reopened, first seen %v", d.New, d.Status, d.FirstSeenAt, t1)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM discrepancies WHERE id = ? AND resolved_at IS NULL", c.ID); n != 1 {
		t.Error("run 4: reopened c keeps its resolved_at")
	}

	// Run 5: the acknowledged a is resolved; an unknown id and c (found again)
	// are left alone.
	finish(t, db, "run_5", t5, []reconcile.Discrepancy{c}, a.ID, "dsc_unknown", c.ID)
	if got, _ := db.Discrepancy(ctx, a.ID); got.Status != reconcile.StatusResolved {
		t.Errorf("run 5: a is %s, want resolved", got.Status)
	}
	if got, _ := db.Discrepancy(ctx, c.ID); got.Status != reconcile.StatusOpen {
		t.Errorf("run 5: c, found and resolved at once, is %s, want open", got.Status)
	}
	// Resolving what is resolved writes nothing.
	finish(t, db, "run_6", ts(5*time.Hour), nil, a.ID)

	// a's amount changed in run 2 and back in run 3: two updates, its
	// status kept.
	checkEvents(t, db, a.ID,
		wantEvent{store.ActionOpened, "", reconcile.StatusOpen, "run_1"},
		wantEvent{store.ActionUpdated, reconcile.StatusOpen, reconcile.StatusOpen, "run_2"},
		wantEvent{store.ActionUpdated, reconcile.StatusAcknowledged, reconcile.StatusAcknowledged, "run_3"},
		wantEvent{store.ActionResolved, reconcile.StatusAcknowledged, reconcile.StatusResolved, "run_5"})
	checkEvents(t, db, c.ID,
		wantEvent{store.ActionOpened, "", reconcile.StatusOpen, "run_1"},
		wantEvent{store.ActionResolved, reconcile.StatusOpen, reconcile.StatusResolved, "run_2"},
		wantEvent{store.ActionReopened, reconcile.StatusResolved, reconcile.StatusOpen, "run_4"})
}

func testFieldsRoundTrip(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	full := disc(reconcile.DuplicateAtGateway, "lr_1", "cus_1", "re_b", "re_a")
	full.ID = "" // derived from the fingerprint
	sparse := reconcile.Discrepancy{Kind: reconcile.MissingInLedger, GatewayRefundIDs: []string{"re_z"}, GatewayAmount: ptr(1)}
	bare := reconcile.Discrepancy{Kind: reconcile.InvalidLedgerRow, LedgerRefundID: "lr_bad"}
	out := finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{full, sparse, bare})
	if want := reconcile.DiscrepancyID("ledger:lr_1"); out[0].ID != want {
		t.Errorf("id = %s, want %s (from the subject)", out[0].ID, want)
	}
	if !slices.Equal(out[0].GatewayRefundIDs, []string{"re_a", "re_b"}) || !slices.Equal(full.GatewayRefundIDs, []string{"re_b", "re_a"}) {
		t.Errorf("gateway ids = %v (input now %v); want sorted output and the input untouched", out[0].GatewayRefundIDs, full.GatewayRefundIDs)
	}
	if out[2].GatewayRefundIDs == nil {
		t.Error("GatewayRefundIDs is nil, want an empty list")
	}
	for _, want := range out {
		got, err := db.Discrepancy(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		want.New = false // not stored
		if !equalDiscrepancy(got, want) {
			t.Errorf("stored\n got %+v\nwant %+v", got, want)
		}
	}
	if n := count(t, db, "SELECT COUNT(*) FROM discrepancies WHERE customer_id IS NULL AND ledger_amount IS NULL AND charge_id IS NULL"); n != 2 {
		t.Errorf("%d discrepancies store absent values as NULL, want 2", n)
	}
}

func testFoundEdgeCases(t *testing.T, b backend) {
	db := b.open(t)
	a := disc(reconcile.GatewayFailed, "lr_a", "cus_1", "re_a")
	a2 := a
	a2.Detail = "second copy"
	out := finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{a, a2})
	for _, d := range out {
		if !d.New || d.Status != reconcile.StatusOpen {
			t.Errorf("duplicate in one run: %+v, want both new and open", d)
		}
	}
	checkEvents(t, db, a.ID, wantEvent{store.ActionOpened, "", reconcile.StatusOpen, "run_1"})
	// Nothing found, nothing resolved: the run is still recorded.
	if out := finish(t, db, "run_2", ts(time.Hour), nil); len(out) != 0 {
		t.Errorf("FinishRun(nil) = %v", out)
	}
}

func testOpenByCustomer(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	a := disc(reconcile.GatewayFailed, "lr_a", "cus_1", "re_a")
	bb := disc(reconcile.AmountMismatch, "lr_b", "cus_2", "re_b")
	c := disc(reconcile.GatewayCanceled, "lr_c", "cus_1", "re_c")
	d := disc(reconcile.GatewayFailed, "lr_d", "cus_1", "re_d")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{a, bb, c, d})
	finish(t, db, "run_2", ts(time.Hour), []reconcile.Discrepancy{a, bb, d}, c.ID)
	if _, err := db.SQLX().ExecContext(ctx, db.SQLX().Rebind("UPDATE discrepancies SET status = 'acknowledged' WHERE id = ?"), d.ID); err != nil {
		t.Fatal(err)
	}
	ids := func(ds []reconcile.Discrepancy, err error) []string {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, d := range ds {
			out = append(out, d.LedgerRefundID)
		}
		slices.Sort(out)
		return out
	}
	if got := ids(db.OpenDiscrepancies(ctx, "cus_1")); !slices.Equal(got, []string{"lr_a", "lr_d"}) {
		t.Errorf("OpenDiscrepancies(cus_1) = %v, want [lr_a lr_d]", got)
	}
	if got := ids(db.OpenDiscrepancies(ctx, "")); !slices.Equal(got, []string{"lr_a", "lr_b", "lr_d"}) {
		t.Errorf("OpenDiscrepancies(all) = %v, want [lr_a lr_b lr_d]", got)
	}
	if got := ids(db.OpenDiscrepancies(ctx, "cus_none")); len(got) != 0 {
		t.Errorf("OpenDiscrepancies(cus_none) = %v, want none", got)
	}
	if got := ids(db.Discrepancies(ctx, reconcile.CaseFilter{Kinds: []reconcile.Kind{reconcile.GatewayFailed}})); !slices.Equal(got, []string{"lr_a", "lr_d"}) {
		t.Errorf("Discrepancies(kind gateway_failed) = %v", got)
	}
	if got := ids(db.Discrepancies(ctx, reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusResolved}})); !slices.Equal(got, []string{"lr_c"}) {
		t.Errorf("Discrepancies(resolved) = %v", got)
	}
	if got := ids(db.Discrepancies(ctx, reconcile.CaseFilter{})); len(got) != 4 {
		t.Errorf("Discrepancies(all) = %v", got)
	}
}

func testSubSecondOrdering(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	base := time.Date(2025, 1, 1, 10, 0, 0, 0, time.UTC)
	// Fractions whose shortest text forms would sort wrongly (".9" > ".25"
	// > ".100001" as text): the store's fixed width must not.
	times := []time.Duration{900 * time.Millisecond, 250 * time.Millisecond, 1, 100001 * time.Microsecond, time.Second}
	for i, d := range times {
		x := disc(reconcile.GatewayFailed, fmt.Sprintf("lr_%d", i), "cus_1", fmt.Sprintf("re_%d", i))
		finish(t, db, fmt.Sprintf("run_%d", i), base.Add(d), []reconcile.Discrepancy{x})
	}
	got, err := db.Discrepancies(ctx, reconcile.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var order []string
	for _, d := range got {
		order = append(order, d.LedgerRefundID)
	}
	if want := []string{"lr_2", "lr_3", "lr_1", "lr_0", "lr_4"}; !slices.Equal(order, want) {
		t.Errorf("order by first seen = %v, want %v", order, want)
	}
	if !sameTime(got[1].FirstSeenAt, base.Add(100001*time.Microsecond)) {
		t.Errorf("first seen = %v, want %v", got[1].FirstSeenAt, base.Add(100001*time.Microsecond))
	}
	if !sameTime(got[0].FirstSeenAt, base) {
		t.Errorf("a nanosecond is stored as %v, want %v (microsecond precision)", got[0].FirstSeenAt, base)
	}
}

func manyDiscrepancies(n int) []reconcile.Discrepancy {
	out := make([]reconcile.Discrepancy, n)
	for i := range out {
		out[i] = disc(reconcile.GatewayFailed, fmt.Sprintf("lr_%05d", i), fmt.Sprintf("cus_%d", i%50), fmt.Sprintf("re_%05d", i))
	}
	return out
}

func testManyDiscrepancies(t *testing.T, b backend) {
	db := b.open(t)
	found := manyDiscrepancies(10000)
	out := finish(t, db, "run_1", ts(0), found)
	for _, d := range out {
		if !d.New {
			t.Fatalf("run 1: %s not new", d.ID)
		}
	}
	resolved := make([]string, 0, 2500)
	for _, d := range found[7500:] {
		resolved = append(resolved, d.ID)
	}
	out = finish(t, db, "run_2", ts(time.Hour), found[:7500], resolved...)
	for _, d := range out {
		if d.New || !sameTime(d.FirstSeenAt, ts(0)) {
			t.Fatalf("run 2: %s new %v first %v", d.ID, d.New, d.FirstSeenAt)
		}
	}
	if n := count(t, db, "SELECT COUNT(*) FROM discrepancies WHERE status = 'resolved'"); n != 2500 {
		t.Errorf("%d resolved, want 2500", n)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM discrepancy_events"); n != 12500 {
		t.Errorf("%d events, want 12500", n)
	}
}

func testNotFound(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	if _, err := db.Run(ctx, "run_none"); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("Run(absent) error = %v, want ErrNotFound", err)
	}
	if _, err := db.Discrepancy(ctx, "dsc_none"); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("Discrepancy(absent) error = %v, want ErrNotFound", err)
	}
	if events, err := db.Events(ctx, "dsc_none"); err != nil || len(events) != 0 {
		t.Errorf("Events(absent) = %v, %v; want none", events, err)
	}
}

// refund is a valid complete ledger refund.
func refund(id, customer string, completed time.Time) reconcile.LedgerRefund {
	return reconcile.LedgerRefund{
		ID: id, CustomerID: customer, ChargeID: "ch_" + id, PaymentIntentID: "pi_" + id,
		GatewayRefundID: "re_" + id, Amount: 4500, Currency: "usd", Status: reconcile.LedgerComplete,
		CompletedAt: completed, CreatedAt: completed.Add(-time.Minute),
	}
}

func seed(t *testing.T, db *store.DB, rows ...reconcile.LedgerRefund) {
	t.Helper()
	if err := db.InsertLedgerRefunds(ctxFor(t), rows); err != nil {
		t.Fatal(err)
	}
}

func readIDs(t *testing.T, l reconcile.Ledger, q reconcile.LedgerQuery) []string {
	t.Helper()
	var ids []string
	err := l.Refunds(ctxFor(t), q, func(r reconcile.LedgerRefund) error {
		ids = append(ids, r.ID)
		return nil
	})
	if err != nil {
		t.Fatalf("Refunds(%+v): %v", q, err)
	}
	slices.Sort(ids)
	return ids
}

// ledgerRow is a ledger refund completed (when not zero) and created at the
// times given.
func ledgerRow(id string, status reconcile.LedgerStatus, completed, created time.Time) reconcile.LedgerRefund {
	r := refund(id, "cus_1", completed)
	r.Status, r.CreatedAt = status, created
	return r
}

func testLedgerWindow(t *testing.T, b backend) {
	db := b.open(t)
	since, until := ts(0), ts(24*time.Hour)
	long := since.Add(-time.Hour) // created before the window
	µs := time.Microsecond
	complete, pending := reconcile.LedgerComplete, reconcile.LedgerPending
	seed(t, db,
		ledgerRow("completed_at_since", complete, since, long),
		ledgerRow("completed_at_until", complete, until, long),
		ledgerRow("completed_before", complete, since.Add(-µs), long),
		ledgerRow("completed_after", complete, until.Add(µs), long),
		ledgerRow("created_at_since", pending, time.Time{}, since),
		ledgerRow("created_at_until", pending, time.Time{}, until),
		ledgerRow("created_before", pending, time.Time{}, since.Add(-µs)),
		ledgerRow("created_after", pending, time.Time{}, until.Add(µs)),
		ledgerRow("created_in_completed_after", complete, until.Add(time.Hour), until.Add(-time.Hour)),
		refund("inside_other_customer", "cus_2", ts(time.Hour)),
	)
	l := store.NewLedger(db, "")
	got := readIDs(t, l, reconcile.LedgerQuery{Since: since, Until: until})
	want := []string{"completed_at_since", "completed_at_until", "created_at_since", "created_at_until",
		"created_in_completed_after", "inside_other_customer"}
	if !slices.Equal(got, want) {
		t.Errorf("window [%v, %v]\n got %v\nwant %v", since, until, got, want)
	}
	got = readIDs(t, l, reconcile.LedgerQuery{Since: since.Add(µs), Until: until.Add(-µs)})
	want = []string{"created_in_completed_after", "inside_other_customer"}
	if !slices.Equal(got, want) {
		t.Errorf("window (%v, %v)\n got %v\nwant %v", since, until, got, want)
	}
	// A zero Since is the whole history.
	if got := readIDs(t, l, reconcile.LedgerQuery{Until: until.Add(time.Hour)}); len(got) != 10 {
		t.Errorf("whole history = %v, want all 10 rows", got)
	}
}

func testLedgerCustomer(t *testing.T, b backend) {
	db := b.open(t)
	seed(t, db, refund("a", "cus_1", ts(0)), refund("b", "cus_2", ts(0)), refund("c", "cus_1", ts(time.Hour)))
	l := store.NewLedger(db, "")
	if got := readIDs(t, l, reconcile.LedgerQuery{Until: ts(2 * time.Hour), CustomerID: "cus_1"}); !slices.Equal(got, []string{"a", "c"}) {
		t.Errorf("cus_1 = %v, want [a c]", got)
	}
	if got := readIDs(t, l, reconcile.LedgerQuery{Until: ts(2 * time.Hour), CustomerID: "cus_9"}); len(got) != 0 {
		t.Errorf("cus_9 = %v, want none", got)
	}
}

func testLedgerKeyed(t *testing.T, b backend) {
	db := b.open(t)
	// Old rows of several customers: a keyed look-up ignores window and customer.
	old := ts(-5 * 365 * 24 * time.Hour)
	lost := refund("lost", "cus_3", old)
	lost.GatewayRefundID = ""
	seed(t, db, refund("a", "cus_1", old), refund("b", "cus_2", old), refund("c", "cus_1", ts(0)), lost, refund("z", "cus_1", old))
	l := store.NewLedger(db, "")
	cases := []struct {
		q    reconcile.LedgerQuery
		want []string
	}{
		{reconcile.LedgerQuery{IDs: []string{"a", "missing"}}, []string{"a"}},
		{reconcile.LedgerQuery{GatewayRefundIDs: []string{"re_b", ""}}, []string{"b"}},
		{reconcile.LedgerQuery{ChargeIDs: []string{"ch_c", "ch_lost"}}, []string{"c", "lost"}},
		{reconcile.LedgerQuery{PaymentIntentIDs: []string{"pi_lost"}}, []string{"lost"}},
		{reconcile.LedgerQuery{IDs: []string{"a"}, ChargeIDs: []string{"ch_a", "ch_b"}, CustomerID: "cus_1",
			Since: ts(0), Until: ts(time.Hour)}, []string{"a", "b"}},
	}
	for _, tc := range cases {
		if got := readIDs(t, l, tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("Refunds(%+v) = %v, want %v", tc.q, got, tc.want)
		}
	}
}

// testLedgerRowsWithoutTimestamps: a row without completed_at and
// created_at belongs to every window: the default query of any window and
// customer, and the keyed look-ups by each key, return it.
func testLedgerRowsWithoutTimestamps(t *testing.T, b backend) {
	db := b.open(t)
	timeless := ledgerRow("timeless", reconcile.LedgerComplete, time.Time{}, time.Time{})
	timeless.PaymentIntentID = "pi_timeless"
	seed(t, db, timeless, refund("dated", "cus_1", ts(0)))
	l := store.NewLedger(db, "")
	for _, q := range []reconcile.LedgerQuery{
		{Since: ts(-time.Hour), Until: ts(time.Hour)},
		{Since: ts(100 * time.Hour), Until: ts(200 * time.Hour)},
		{Until: ts(time.Hour), CustomerID: "cus_1"},
		{IDs: []string{"timeless"}},
		{GatewayRefundIDs: []string{"re_timeless"}},
		{ChargeIDs: []string{"ch_timeless"}},
		{PaymentIntentIDs: []string{"pi_timeless"}},
	} {
		if got := readIDs(t, l, q); !slices.Contains(got, "timeless") {
			t.Errorf("Refunds(%+v) = %v, want the row without timestamps", q, got)
		}
	}
	if got := readIDs(t, l, reconcile.LedgerQuery{Until: ts(time.Hour), CustomerID: "cus_2"}); len(got) != 0 {
		t.Errorf("cus_2 = %v, want none: the customer still filters", got)
	}
}

// testLedgerHugeValues: a row of any size is read as it is, for the
// reconciler to judge; an amount with a fraction is kept as read.
func testLedgerHugeValues(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	huge := strings.Repeat("x", 3<<20)
	r := refund("huge", "cus_1", ts(0))
	r.Currency, r.Status = huge, reconcile.LedgerStatus(huge)
	seed(t, db, r)
	query := `SELECT id, customer_id, charge_id, payment_intent_id, gateway_refund_id,
	CAST(60.5 AS numeric) AS amount, currency, status, completed_at, created_at FROM ledger_refunds`
	var got []reconcile.LedgerRefund
	err := store.NewLedger(db, query).Refunds(ctx, reconcile.LedgerQuery{Until: ts(time.Hour)}, func(l reconcile.LedgerRefund) error {
		got = append(got, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Currency != huge || string(got[0].Status) != huge || got[0].AmountText != "60.5" || got[0].Amount != 0 {
		t.Fatalf("read %d rows; currency %d bytes, amount %d %q", len(got), len(got[0].Currency), got[0].Amount, got[0].AmountText)
	}
}

func testLedgerKeyedBatches(t *testing.T, b backend) {
	db := b.open(t)
	var rows []reconcile.LedgerRefund
	for i := range 1500 {
		rows = append(rows, refund(fmt.Sprintf("r%04d", i), "cus_1", ts(time.Duration(i)*time.Second)))
	}
	seed(t, db, rows...)
	var q reconcile.LedgerQuery
	for i := range 2500 { // 2500 ids, 1500 of them known: three statements
		q.IDs = append(q.IDs, fmt.Sprintf("r%04d", i))
	}
	q.ChargeIDs = []string{"ch_r0000", "ch_r1499"} // found again in a later statement
	got := readIDs(t, store.NewLedger(db, ""), q)
	if len(got) != 1500 || len(slices.Compact(slices.Clone(got))) != 1500 {
		t.Errorf("keyed look-up of 2500 ids returned %d rows (%d distinct), want 1500", len(got), len(slices.Compact(slices.Clone(got))))
	}
}

func testLedgerMessyRows(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	seed(t, db, reconcile.LedgerRefund{ID: "nulls", AmountNull: true, Status: "complete", CreatedAt: ts(0)})
	// Values no insert of ours would write, straight into the table.
	insert := `INSERT INTO ledger_refunds (id, customer_id, amount, currency, status, completed_at, created_at)
VALUES ('weird', NULL, -3, 'US Dollars', 'done', NULL, ?)`
	if _, err := db.SQLX().ExecContext(ctx, db.SQLX().Rebind(insert), ts(time.Second).Format("2006-01-02T15:04:05.000000Z")); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM ledger_refunds WHERE charge_id IS NULL AND gateway_refund_id IS NULL AND amount IS NULL AND completed_at IS NULL"); n != 1 {
		t.Errorf("%d rows keep NULLs, want 1", n)
	}
	got := map[string]reconcile.LedgerRefund{}
	err := store.NewLedger(db, "").Refunds(ctx, reconcile.LedgerQuery{Until: ts(time.Hour)}, func(r reconcile.LedgerRefund) error {
		got[r.ID] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]reconcile.LedgerRefund{
		"nulls": {ID: "nulls", AmountNull: true, Status: "complete", CreatedAt: ts(0)},
		"weird": {ID: "weird", Amount: -3, Currency: "US Dollars", Status: "done", CreatedAt: ts(time.Second)},
	}
	if len(got) != len(want) {
		t.Fatalf("read %d rows, want %d: %+v", len(got), len(want), got)
	}
	for id, w := range want {
		g := got[id]
		if g.ID != w.ID || g.CustomerID != w.CustomerID || g.ChargeID != "" || g.PaymentIntentID != "" || g.GatewayRefundID != "" ||
			g.Amount != w.Amount || g.AmountNull != w.AmountNull || g.Currency != w.Currency || g.Status != w.Status ||
			!g.CompletedAt.IsZero() || !sameTime(g.CreatedAt, w.CreatedAt) {
			t.Errorf("row %s = %+v, want %+v", id, g, w)
		}
	}
}

// customQueries are LEDGER_QUERY examples per dialect: casts, named
// parameters used twice, a colon in a literal and in a comment, a trailing
// semicolon, columns in another order and an extra column.
var customQueries = map[string]string{
	store.DialectPostgres: `
SELECT status, id, customer_id, charge_id, payment_intent_id, gateway_refund_id,
       amount::bigint AS amount, upper(currency) AS currency,
       completed_at::timestamptz AS completed_at, created_at::timestamptz AS created_at,
       'a:b::c' AS note -- :not_a_parameter
FROM ledger_refunds
WHERE COALESCE(completed_at, created_at) BETWEEN :since::timestamptz AND CAST(:until AS timestamptz)
  AND (CAST(:customer_id AS text) IS NULL OR customer_id = :customer_id)
  /* 12:30 is not a parameter either */ ;`,
	store.DialectSQLite: `
SELECT status, id, customer_id, charge_id, payment_intent_id, gateway_refund_id,
       CAST(amount AS INTEGER) AS amount, upper(currency) AS currency,
       completed_at, created_at, 'a:b::c' AS note -- :not_a_parameter
FROM ledger_refunds
WHERE COALESCE(completed_at, created_at) BETWEEN :since AND :until
  AND (CAST(:customer_id AS text) IS NULL OR customer_id = :customer_id)
  /* 12:30 is not a parameter either */ ;`,
}

func testLedgerCustomQuery(t *testing.T, b backend) {
	db := b.open(t)
	pending := refund("p", "cus_1", time.Time{})
	pending.Status, pending.CreatedAt = reconcile.LedgerPending, ts(time.Hour)
	seed(t, db, refund("a", "cus_1", ts(0)), refund("b", "cus_2", ts(time.Minute)), refund("old", "cus_1", ts(-48*time.Hour)), pending)
	l := store.NewLedger(db, customQueries[b.name])
	if got := readIDs(t, l, reconcile.LedgerQuery{Since: ts(0), Until: ts(2 * time.Hour)}); !slices.Equal(got, []string{"a", "b", "p"}) {
		t.Errorf("custom query, all customers = %v, want [a b p]", got)
	}
	if got := readIDs(t, l, reconcile.LedgerQuery{Since: ts(0), Until: ts(2 * time.Hour), CustomerID: "cus_1"}); !slices.Equal(got, []string{"a", "p"}) {
		t.Errorf("custom query, cus_1 = %v, want [a p]", got)
	}
	if got := readIDs(t, l, reconcile.LedgerQuery{GatewayRefundIDs: []string{"re_old"}}); !slices.Equal(got, []string{"old"}) {
		t.Errorf("custom query, keyed = %v, want [old]", got)
	}
	var first reconcile.LedgerRefund
	err := l.Refunds(ctxFor(t), reconcile.LedgerQuery{IDs: []string{"a"}}, func(r reconcile.LedgerRefund) error {
		first = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.Currency != "USD" || first.Amount != 4500 || !sameTime(first.CompletedAt, ts(0)) {
		t.Errorf("custom query row = %+v", first)
	}
}

func testLedgerMissingColumn(t *testing.T, b backend) {
	db := b.open(t)
	seed(t, db, refund("a", "cus_1", ts(0)))
	l := store.NewLedger(db, `SELECT id, customer_id, amount, currency, completed_at, created_at, payment_intent_id
FROM ledger_refunds WHERE created_at <= :until`)
	// The keyed look-ups wrap the query: by id the wrapper works and the
	// result lacks columns; by gateway_refund_id the database itself fails.
	for _, q := range []reconcile.LedgerQuery{{Until: ts(time.Hour)}, {IDs: []string{"a"}}, {GatewayRefundIDs: []string{"re_a"}}} {
		err := l.Refunds(ctxFor(t), q, func(reconcile.LedgerRefund) error { return nil })
		if !errors.Is(err, reconcile.ErrConfig) {
			t.Errorf("Refunds(%+v) error = %v, want ErrConfig", q, err)
			continue
		}
		for _, col := range []string{"charge_id", "gateway_refund_id", "status"} {
			if !strings.Contains(err.Error(), col) {
				t.Errorf("error %q does not name %s", err, col)
			}
		}
	}
}

func testLedgerUnknownParameter(t *testing.T, b backend) {
	db := b.open(t)
	l := store.NewLedger(db, `SELECT * FROM ledger_refunds WHERE created_at >= :start`)
	err := l.Refunds(ctxFor(t), reconcile.LedgerQuery{}, func(reconcile.LedgerRefund) error { return nil })
	if !errors.Is(err, reconcile.ErrConfig) || !strings.Contains(err.Error(), ":start") {
		t.Errorf("error = %v, want ErrConfig naming :start", err)
	}
}

func testLedgerCallbackError(t *testing.T, b backend) {
	db := b.open(t)
	seed(t, db, refund("a", "cus_1", ts(0)), refund("b", "cus_1", ts(0)))
	stop := errors.New("stop")
	calls := 0
	err := store.NewLedger(db, "").Refunds(ctxFor(t), reconcile.LedgerQuery{Until: ts(time.Hour)}, func(reconcile.LedgerRefund) error {
		calls++
		return stop
	})
	if err != stop || calls != 1 {
		t.Errorf("Refunds = %v after %d calls, want the callback's error after 1", err, calls)
	}
}

func testLedgerCanceled(t *testing.T, b backend) {
	db := b.open(t)
	seed(t, db, refund("a", "cus_1", ts(0)))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := store.NewLedger(db, "").Refunds(ctx, reconcile.LedgerQuery{Until: ts(time.Hour)}, func(reconcile.LedgerRefund) error { return nil })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Refunds(canceled) = %v, want context.Canceled", err)
	}
}

func testInsertLedgerRoundTrip(t *testing.T, b backend) {
	db := b.open(t)
	var rows []reconcile.LedgerRefund
	for i := range 1203 { // two full SQLite batches and a rest
		r := refund(fmt.Sprintf("r%04d", i), fmt.Sprintf("cus_%d", i%7), ts(time.Duration(i)*time.Millisecond+time.Duration(i)*time.Microsecond))
		switch i % 4 {
		case 1:
			r.ChargeID, r.GatewayRefundID = "", ""
		case 2:
			r.Status, r.CompletedAt, r.AmountNull, r.Amount = reconcile.LedgerFailed, time.Time{}, true, 0
		case 3:
			r.PaymentIntentID, r.Currency = "", "JPY"
		}
		rows = append(rows, r)
	}
	seed(t, db, rows...)
	got := map[string]reconcile.LedgerRefund{}
	err := store.NewLedger(db, "").Refunds(ctxFor(t), reconcile.LedgerQuery{Until: ts(time.Hour)}, func(r reconcile.LedgerRefund) error {
		got[r.ID] = r
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(rows) {
		t.Fatalf("read %d rows, want %d", len(got), len(rows))
	}
	for _, w := range rows {
		g := got[w.ID]
		if g.CustomerID != w.CustomerID || g.ChargeID != w.ChargeID || g.PaymentIntentID != w.PaymentIntentID ||
			g.GatewayRefundID != w.GatewayRefundID || g.Amount != w.Amount || g.AmountNull != w.AmountNull ||
			g.Currency != w.Currency || g.Status != w.Status ||
			!g.CompletedAt.Equal(w.CompletedAt) || !g.CreatedAt.Equal(w.CreatedAt) {
			t.Fatalf("row %s\n got %+v\nwant %+v", w.ID, g, w)
		}
	}
	if n := count(t, db, "SELECT COUNT(*) FROM ledger_refunds WHERE charge_id IS NULL"); n != 301 {
		t.Errorf("%d rows with NULL charge_id, want 301", n)
	}
}

// migrationFiles counts the embedded migrations of a dialect: each is
// recorded once, however often Migrate runs.
func migrationFiles(t *testing.T, dialect string) int {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join("migrations", dialect))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".sql") {
			n++
		}
	}
	if n == 0 {
		t.Fatalf("no migrations for %s", dialect)
	}
	return n
}
