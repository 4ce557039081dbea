package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// TestHeldRuns runs the held-run suite against PostgreSQL and SQLite.
func TestHeldRuns(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				fn   func(*testing.T, backend)
			}{
				{"HeldRunEnqueuesOnlyRunHeld", testHeldRunEnqueuesOnlyRunHeld},
				{"ReleaseSendsEachHeldAlertOnce", testReleaseOnce},
				{"DiscardResolvesWithoutAlerts", testDiscardWithoutAlerts},
				{"OrdinaryRunNeverHeld", testOrdinaryRunNotHeld},
				{"PreviewRunWritesNothing", testPreviewWritesNothing},
				{"UnknownAndNeverHeldRuns", testHoldErrors},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, b)
				})
			}
		})
	}
}

// heldFixture: run_0 opens case a; run_1 (100 refunds in scope) updates a
// and opens 25 new cases, more than 5% and at least 20: it is held.
type heldFixture struct {
	db    *store.DB
	a     reconcile.Discrepancy
	fresh []string // the 25 cases run_1 opened
}

func newHeldFixture(t *testing.T, b backend) heldFixture {
	t.Helper()
	db := b.open(t)
	db.SetAlertChannels(threeChannels)
	a := disc(reconcile.GatewayFailed, "lr_a", "cus_a", "re_a")
	finish(t, db, "run_0", ts(0), []reconcile.Discrepancy{a})
	drainAll(t, db, ts(time.Minute))

	found := []reconcile.Discrepancy{disc(reconcile.AmountMismatch, "lr_a", "cus_a", "re_a")} // a, updated
	var fresh []string
	for i := range 25 {
		d := disc(reconcile.InvalidLedgerRow, fmt.Sprintf("lr_bad_%02d", i), "cus_b")
		found = append(found, d)
		fresh = append(fresh, d.ID)
	}
	slices.Sort(fresh)
	ch := finishCounted(t, db, "run_1", ts(time.Hour), found, reconcile.Counts{LedgerRefunds: 100, GatewayRefunds: 90, Matched: 90})
	if ch.Held == nil || ch.Held.NewDiscrepancies != 25 || ch.Held.RefundsInScope != 100 {
		t.Fatalf("run_1 held = %+v, want 25 new of 100", ch.Held)
	}
	return heldFixture{db: db, a: a, fresh: fresh}
}

// finishCounted starts and finishes run id with counts and the default
// hold policy, and returns the changes.
func finishCounted(t *testing.T, db *store.DB, id string, finished time.Time, found []reconcile.Discrepancy, counts reconcile.Counts) reconcile.Changes {
	t.Helper()
	ctx := ctxFor(t)
	run := newRun(id, finished.Add(-time.Second))
	if err := db.StartRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	run.FinishedAt, run.Status, run.Counts, run.Hold = finished, reconcile.RunSucceeded, counts, reconcile.DefaultHold
	ch, err := db.FinishRun(ctx, run, found, nil)
	if err != nil {
		t.Fatalf("FinishRun %s: %v", id, err)
	}
	return ch
}

// drainAll claims and marks delivered every alert due at now, and returns
// them in order.
func drainAll(t *testing.T, db *store.DB, now time.Time) []reconcile.Alert {
	t.Helper()
	var out []reconcile.Alert
	for {
		a, ok, err := db.ClaimAlert(ctxFor(t), []string{"slack", "pagerduty", "webhook"}, now, time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		if err := db.AlertDelivered(ctxFor(t), a, now); err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
}

func testHeldRunEnqueuesOnlyRunHeld(t *testing.T, b backend) {
	f := newHeldFixture(t, b)
	ctx := ctxFor(t)
	run, err := f.db.Run(ctx, "run_1")
	if err != nil {
		t.Fatal(err)
	}
	if run.Status != reconcile.RunHeld || run.Held == nil || run.Held.State != reconcile.HoldWaiting {
		t.Fatalf("run_1 = %s %+v, want held", run.Status, run.Held)
	}
	// The cases are recorded, open, as usual.
	for _, id := range f.fresh {
		d, err := f.db.Discrepancy(ctx, id)
		if err != nil || d.Status != reconcile.StatusOpen {
			t.Fatalf("case %s: %v %v, want open", id, d.Status, err)
		}
	}
	// Only the run.held alerts go out: one per channel.
	sent := drainAll(t, f.db, ts(2*time.Hour))
	var channels []string
	for _, a := range sent {
		if a.Action != reconcile.AlertRunHeld || a.Held == nil || a.Held.RunID != "run_1" || a.Held.NewDiscrepancies != 25 {
			t.Errorf("sent %s %s %+v while run_1 is held", a.Channel, a.Action, a.Held)
		}
		channels = append(channels, a.Channel)
	}
	slices.Sort(channels)
	if !slices.Equal(channels, []string{"pagerduty", "slack", "webhook"}) {
		t.Errorf("run.held sent on %v, want one per channel", channels)
	}
	if _, ok, err := f.db.NextAlertDue(ctx, []string{"slack", "pagerduty", "webhook"}); err != nil || ok {
		t.Errorf("NextAlertDue = %v, %v: a held alert counts as due", ok, err)
	}
	// Finishing the same run again cannot enqueue anything twice.
	entries, _ := f.db.Outbox(ctx, false)
	held := 0
	for _, e := range entries {
		if e.Held {
			held++
		}
	}
	// slack: one digest (26 > 20 cases: opened digest; 1 updated); pagerduty
	// and webhook: 26 each.
	if held != 2+26+26 {
		t.Errorf("%d held alerts, want %d", held, 2+26+26)
	}
}

func testReleaseOnce(t *testing.T, b backend) {
	f := newHeldFixture(t, b)
	ctx := ctxFor(t)
	drainAll(t, f.db, ts(2*time.Hour)) // the run.held alerts
	out, err := f.db.Release(ctx, "run_1", "alice")
	if err != nil {
		t.Fatal(err)
	}
	if out.Already != nil || out.Alerts != 54 {
		t.Fatalf("release = %+v, want 54 alerts released", out)
	}
	sent := drainAll(t, f.db, ts(3*time.Hour))
	seen := map[string]bool{}
	for _, a := range sent {
		if seen[a.Key] {
			t.Errorf("alert %s sent twice", a.Key)
		}
		seen[a.Key] = true
		if a.Action == reconcile.AlertRunHeld {
			t.Errorf("run.held sent again on release")
		}
	}
	if len(sent) != 54 {
		t.Errorf("release delivered %d alerts, want 54", len(sent))
	}
	// A second release is a no-op that says who released.
	again, err := f.db.Release(ctx, "run_1", "bob")
	if err != nil {
		t.Fatal(err)
	}
	if again.Already == nil || again.Already.State != reconcile.HoldReleased || again.Already.By != "alice" {
		t.Fatalf("second release = %+v, want already released by alice", again)
	}
	if more := drainAll(t, f.db, ts(4*time.Hour)); len(more) != 0 {
		t.Errorf("second release sent %d alerts", len(more))
	}
	run, _ := f.db.Run(ctx, "run_1")
	if run.Status != reconcile.RunSucceeded || run.Held.State != reconcile.HoldReleased {
		t.Errorf("run_1 after release = %s %+v", run.Status, run.Held)
	}
	// The audit trail: a released event by alice on every case it held.
	for _, id := range append([]string{f.a.ID}, f.fresh...) {
		hist, err := f.db.History(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		last := hist[len(hist)-1]
		if last.Action != store.ActionReleased || last.By != "alice" || last.RunID == nil || *last.RunID != "run_1" {
			t.Errorf("case %s: last event %+v, want released by alice", id, last)
		}
	}
}

func testDiscardWithoutAlerts(t *testing.T, b backend) {
	f := newHeldFixture(t, b)
	ctx := ctxFor(t)
	if _, err := f.db.Discard(ctx, "run_1", "bob", ""); !errors.Is(err, reconcile.ErrInvalid) {
		t.Fatalf("discard without a note: %v, want ErrInvalid", err)
	}
	out, err := f.db.Discard(ctx, "run_1", "bob", "LEDGER_QUERY read the wrong column")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(out.Resolved, f.fresh) {
		t.Fatalf("discard resolved %v, want the 25 cases run_1 opened", out.Resolved)
	}
	for _, id := range f.fresh {
		d, _ := f.db.Discrepancy(ctx, id)
		hist, _ := f.db.History(ctx, id)
		last := hist[len(hist)-1]
		if d.Status != reconcile.StatusResolved || last.By != "bob" || last.Note != "LEDGER_QUERY read the wrong column" {
			t.Errorf("case %s: %s, last event %+v", id, d.Status, last)
		}
	}
	// a, which run_1 only updated, stays as it left it.
	if d, _ := f.db.Discrepancy(ctx, f.a.ID); d.Status != reconcile.StatusOpen || d.Kind != reconcile.AmountMismatch {
		t.Errorf("case a after discard: %s %s", d.Status, d.Kind)
	}
	sent := drainAll(t, f.db, ts(3*time.Hour))
	for _, a := range sent {
		for _, d := range a.Discrepancies {
			if slices.Contains(f.fresh, d.ID) {
				t.Errorf("alert %s about discarded case %s sent", a.Key, d.ID)
			}
		}
		if a.Action == reconcile.AlertOpened || a.Action == reconcile.AlertResolved {
			t.Errorf("alert %s sent after discard", a.Key)
		}
	}
	// Sent: three run.held, and a's update on each channel.
	if len(sent) != 6 {
		t.Errorf("after discard %d alerts sent, want 6 (run.held and a's update per channel)", len(sent))
	}
	entries, _ := f.db.Outbox(ctx, true)
	if len(entries) != 0 {
		t.Errorf("%d alerts left in the outbox after discard", len(entries))
	}
	again, err := f.db.Release(ctx, "run_1", "carol")
	if err != nil || again.Already == nil || again.Already.State != reconcile.HoldDiscarded {
		t.Errorf("release after discard = %+v, %v", again, err)
	}
}

func testOrdinaryRunNotHeld(t *testing.T, b backend) {
	db := b.open(t)
	db.SetAlertChannels(threeChannels)
	var found []reconcile.Discrepancy
	for i := range 25 {
		found = append(found, disc(reconcile.GatewayFailed, fmt.Sprintf("lr_%02d", i), "cus_1", fmt.Sprintf("re_%02d", i)))
	}
	// 25 new cases over 1000 refunds: 2.5%, an ordinary bad night.
	if ch := finishCounted(t, db, "run_1", ts(0), found, reconcile.Counts{LedgerRefunds: 1000, GatewayRefunds: 1000, Matched: 1000}); ch.Held != nil {
		t.Fatalf("run with 25 new of 1000 held: %+v", ch.Held)
	}
	// 19 new over 19 refunds: under the minimum of 20.
	var few []reconcile.Discrepancy
	for i := range 19 {
		few = append(few, disc(reconcile.GatewayFailed, fmt.Sprintf("lr_f%02d", i), "cus_2", fmt.Sprintf("re_f%02d", i)))
	}
	if ch := finishCounted(t, db, "run_2", ts(time.Hour), few, reconcile.Counts{LedgerRefunds: 19}); ch.Held != nil {
		t.Fatalf("run with 19 new held: %+v", ch.Held)
	}
	for _, id := range []string{"run_1", "run_2"} {
		if r, _ := db.Run(ctxFor(t), id); r.Status != reconcile.RunSucceeded || r.Held != nil {
			t.Errorf("%s = %s %+v, want succeeded, never held", id, r.Status, r.Held)
		}
	}
	for _, a := range drainAll(t, db, ts(2*time.Hour)) {
		if a.Action == reconcile.AlertRunHeld {
			t.Errorf("ordinary run sent run.held on %s", a.Channel)
		}
	}
}

func testPreviewWritesNothing(t *testing.T, b backend) {
	f := newHeldFixture(t, b)
	ctx := ctxFor(t)
	before := storetest.Dump(t, f.db)
	found := []reconcile.Discrepancy{disc(reconcile.GatewayCanceled, "lr_a", "cus_a", "re_a"), disc(reconcile.GatewayFailed, "lr_new", "cus_n", "re_n")}
	run := newRun("dry_run_9", ts(5*time.Hour))
	run.DryRun, run.FinishedAt = true, ts(5*time.Hour)
	ch, err := f.db.PreviewRun(ctx, run, found, judgedOf(t, f.db, f.fresh[0]))
	if err != nil {
		t.Fatal(err)
	}
	// What a run would say: a updated (same id, not new), one new, one resolved.
	got := map[reconcile.CaseAction]int{}
	for _, c := range ch.Changes {
		got[c.Action]++
	}
	if got[reconcile.CaseUpdated] != 1 || got[reconcile.CaseOpened] != 1 || got[reconcile.CaseResolved] != 1 {
		t.Errorf("preview changes = %v", got)
	}
	if after := storetest.Dump(t, f.db); after != before {
		t.Errorf("PreviewRun changed the state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

func testHoldErrors(t *testing.T, b backend) {
	db := b.open(t)
	ctx := ctxFor(t)
	if _, err := db.Release(ctx, "run_nope", "alice"); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("release of an unknown run: %v", err)
	}
	finish(t, db, "run_1", ts(0), nil)
	if _, err := db.Release(ctx, "run_1", "alice"); !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("release of a run never held: %v", err)
	}
	if _, err := db.Discard(ctx, "run_1", "", "note"); !errors.Is(err, reconcile.ErrInvalid) {
		t.Errorf("discard without --by: %v", err)
	}
}
