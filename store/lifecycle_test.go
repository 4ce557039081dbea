package store_test

import (
	"slices"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// TestLifecycle runs what FinishRun writes of reconcile.Decide's changes
// against PostgreSQL and SQLite.
func TestLifecycle(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			t.Run("UpdateAlertsOncePerChange", func(t *testing.T) { testUpdateAlerts(t, b) })
			t.Run("CaseFromBeforeIdentityBySubject", func(t *testing.T) { testLegacyCase(t, b) })
		})
	}
}

// A kind change keeps the case and enqueues one "updated" per channel,
// keyed per update; a refresh enqueues nothing; the stored row takes the
// new kind.
func testUpdateAlerts(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels([]store.AlertChannel{{Name: "pagerduty"}, {Name: "webhook"}})
	d := disc(reconcile.AmountMismatch, "lr_1", "cus_1", "re_1")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d})
	failed := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	if failed.ID != d.ID {
		t.Fatalf("a kind change changed the id: %s → %s", d.ID, failed.ID)
	}
	out := finish(t, db, "run_2", ts(time.Hour), []reconcile.Discrepancy{failed})
	if out[0].New || out[0].ID != d.ID || out[0].Kind != reconcile.GatewayFailed {
		t.Fatalf("after the kind change: %+v", out[0])
	}
	finish(t, db, "run_3", ts(2*time.Hour), []reconcile.Discrepancy{failed}) // unchanged
	twice := failed
	twice.GatewayRefundIDs = []string{"re_1", "re_2"}
	finish(t, db, "run_4", ts(3*time.Hour), []reconcile.Discrepancy{twice})

	want := []string{
		d.ID + ":pagerduty:opened:1", d.ID + ":webhook:opened:1",
		d.ID + ":pagerduty:updated:1.1", d.ID + ":webhook:updated:1.1",
		d.ID + ":pagerduty:updated:1.2", d.ID + ":webhook:updated:1.2",
	}
	if got := keys(t, db, false); !slices.Equal(got, want) {
		t.Fatalf("outbox keys %q,\nwant %q", got, want)
	}
	stored, err := db.Discrepancy(ctx, d.ID)
	if err != nil || stored.Kind != reconcile.GatewayFailed || !slices.Equal(stored.GatewayRefundIDs, []string{"re_1", "re_2"}) {
		t.Fatalf("stored %+v %v", stored, err)
	}
	entries, err := db.Outbox(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	if e := entries[2]; e.Note != "kind amount_mismatch → gateway_failed" {
		t.Errorf("the update's alert says %q", e.Note)
	}
	checkEvents(t, db, d.ID,
		wantEvent{store.ActionOpened, "", reconcile.StatusOpen, "run_1"},
		wantEvent{store.ActionUpdated, reconcile.StatusOpen, reconcile.StatusOpen, "run_2"},
		wantEvent{store.ActionUpdated, reconcile.StatusOpen, reconcile.StatusOpen, "run_4"})
}

// A case stored before identity by subject (its id derived from kind,
// ledger and gateway ids) is found by its ledger refund, keeps its id, and
// changes kind rather than being resolved beside a new case.
func testLegacyCase(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	legacyID := reconcile.DiscrepancyID("amount_mismatch|lr_1|re_1")
	q := db.SQLX().Rebind(`INSERT INTO discrepancies (id, fingerprint, kind, status, customer_id, ledger_refund_id,
	gateway_refund_ids, first_seen_at, last_seen_at, first_run_id, last_run_id, updated_at)
VALUES (?, 'amount_mismatch|lr_1|re_1', 'amount_mismatch', 'open', 'cus_1', 'lr_1', 're_1', ?, ?, 'run_0', 'run_0', ?)`)
	at := "2026-01-01T00:00:00.000000Z"
	var args []any
	if db.Dialect() == store.DialectPostgres {
		args = []any{legacyID, ts(-time.Hour), ts(-time.Hour), ts(-time.Hour)}
	} else {
		args = []any{legacyID, at, at, at}
	}
	if _, err := db.SQLX().ExecContext(ctx, q, args...); err != nil {
		t.Fatal(err)
	}
	open, err := db.OpenDiscrepancies(ctx, "")
	if err != nil || len(open) != 1 || open[0].Subject != "ledger:lr_1" {
		t.Fatalf("open %+v %v, want the legacy case with subject ledger:lr_1", open, err)
	}
	failed := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	out := finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{failed})
	if out[0].ID != legacyID || out[0].New {
		t.Fatalf("found %+v, want the legacy case %s kept", out[0], legacyID)
	}
	all, err := db.Discrepancies(ctx, reconcile.CaseFilter{})
	if err != nil || len(all) != 1 || all[0].Kind != reconcile.GatewayFailed || all[0].Status != reconcile.StatusOpen {
		t.Fatalf("cases %+v %v, want one, gateway_failed, open", all, err)
	}
}
