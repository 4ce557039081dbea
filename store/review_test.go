package store_test

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// testReview runs in TestOutbox: acknowledge and resolve, their audit trail
// and the resolve's alert.
func testReview(t *testing.T, b backend) {
	ctx := ctxFor(t)
	db := b.open(t)
	db.SetAlertChannels([]store.AlertChannel{{Name: "pagerduty"}})
	d := disc(reconcile.GatewayFailed, "lr_1", "cus_1", "re_1")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{d})
	enqueued := len(keys(t, db, false))

	// Bad requests change nothing.
	if _, err := db.Acknowledge(ctx, "dsc_nope", "alice", ""); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	if _, err := db.Acknowledge(ctx, d.ID, "  ", ""); !errors.Is(err, reconcile.ErrInvalid) {
		t.Errorf("no actor: %v", err)
	}
	if _, err := db.Resolve(ctx, d.ID, "alice", " "); !errors.Is(err, reconcile.ErrInvalid) {
		t.Errorf("resolve without a note: %v", err)
	}

	got, err := db.Acknowledge(ctx, d.ID, "alice", "calling the customer")
	if err != nil || got.Status != reconcile.StatusAcknowledged || got.ID != d.ID {
		t.Fatalf("Acknowledge = %+v, %v", got, err)
	}
	if _, err := db.Acknowledge(ctx, d.ID, "bob", ""); !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("acknowledged twice: %v", err)
	}
	if n := len(keys(t, db, false)); n != enqueued {
		t.Errorf("an acknowledgement enqueued %d alerts", n-enqueued)
	}
	// A run that still sees it keeps it acknowledged.
	finish(t, db, "run_2", ts(time.Hour), []reconcile.Discrepancy{d})
	if s, _ := db.Discrepancy(ctx, d.ID); s.Status != reconcile.StatusAcknowledged {
		t.Fatalf("a run changed an acknowledged case to %s", s.Status)
	}

	got, err = db.Resolve(ctx, d.ID, "bob", "re-issued as re_2")
	if err != nil || got.Status != reconcile.StatusResolved {
		t.Fatalf("Resolve = %+v, %v", got, err)
	}
	if _, err := db.Resolve(ctx, d.ID, "bob", "again"); !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("resolved twice: %v", err)
	}
	if _, err := db.Acknowledge(ctx, d.ID, "bob", ""); !errors.Is(err, reconcile.ErrConflict) {
		t.Errorf("acknowledged a resolved case: %v", err)
	}
	if s, _ := db.OpenDiscrepancies(ctx, ""); len(s) != 0 {
		t.Errorf("open after the resolve: %v", s)
	}

	// The audit trail: who, what, from which status, why.
	events, err := db.Events(ctx, d.ID)
	if err != nil {
		t.Fatal(err)
	}
	type row struct {
		actor, action string
		from, to      reconcile.Status
		note, run     string
	}
	var rows []row
	for _, e := range events {
		if e.At.IsZero() {
			t.Errorf("event without a time: %+v", e)
		}
		rows = append(rows, row{e.Actor, e.Action, e.FromStatus, e.ToStatus, e.Note, e.RunID})
	}
	want := []row{
		{store.RunActor, store.ActionOpened, "", reconcile.StatusOpen, "", "run_1"},
		{"alice", store.ActionAcknowledged, reconcile.StatusOpen, reconcile.StatusAcknowledged, "calling the customer", ""},
		{"bob", store.ActionResolved, reconcile.StatusAcknowledged, reconcile.StatusResolved, "re-issued as re_2", ""},
	}
	if !slices.Equal(rows, want) {
		t.Fatalf("events:\n got  %+v\n want %+v", rows, want)
	}

	// The resolve enqueued its alert, carrying who and why.
	entries, err := db.Outbox(ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	last := entries[len(entries)-1]
	if len(entries) != enqueued+1 || last.Key != d.ID+":pagerduty:resolved:1" || last.Actor != "bob" ||
		last.Note != "re-issued as re_2" || last.RunID != "" {
		t.Fatalf("resolve alert: %+v", last)
	}

	// Found again: reopened, and alerting again in cycle 2.
	finish(t, db, "run_3", ts(2*time.Hour), []reconcile.Discrepancy{d})
	if s, _ := db.Discrepancy(ctx, d.ID); s.Status != reconcile.StatusOpen {
		t.Fatalf("not reopened: %s", s.Status)
	}
	if k := keys(t, db, false); k[len(k)-1] != d.ID+":pagerduty:opened:2" {
		t.Fatalf("reopen alert: %v", k)
	}
}
