package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// A case's whole life through run(), as the contract's "Discrepancy
// identity and life" tells it, with every alert counted on the three
// channels: its kind changes (one discrepancy.updated each, no resolve/open
// pair), a person resolves it while the problem persists (the next run
// reopens it under its id), its ledger row is deleted (the next run
// resolves it, the history says so). Each alert exactly once.
func TestLifecycleKindChangeReopenDeletedRow(t *testing.T) {
	w := newWorld(t)
	rc := healthyReceivers(t)
	withAlerts(t, w, rc)
	day := 24 * time.Hour
	w.charge("ch_1", "cus_1", 9000, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 4500, Created: w.ago(10 * day)})
	w.ledger(reconcile.LedgerRefund{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1",
		Amount: 4000, Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: w.ago(10 * day), CompletedAt: w.ago(10 * day)})
	want := func(step string, n int) {
		t.Helper()
		if got := rc.counts(); got != [3]int{n, n, n} {
			t.Fatalf("%s: sent %v (slack, pagerduty, webhook), want %d each", step, got, n)
		}
	}
	lastWebhook := func() (string, map[string]any) {
		t.Helper()
		reqs := rc.webhook.requests()
		return webhookEvent(t, reqs[len(reqs)-1])
	}

	// Opened: amount_mismatch.
	rep := decodeReport(t, mustRun(t, w, "run", "--format", "json"))
	if len(rep.Discrepancies) != 1 || rep.Discrepancies[0]["kind"] != "amount_mismatch" {
		t.Fatalf("first run: %v", triples(rep))
	}
	id := rep.Discrepancies[0]["id"].(string)
	want("opened", 1)

	// The amount is fixed, but the refund now failed: the same case
	// changes kind. One update per channel, no resolve, no second open.
	if _, err := w.db.SQLX().Exec(`UPDATE ledger_refunds SET amount = 4500 WHERE id = 'lr_1'`); err != nil {
		t.Fatal(err)
	}
	if err := w.stripe.FailRefund("re_1", "expired_or_canceled_card", w.ago(day)); err != nil {
		t.Fatal(err)
	}
	rep = decodeReport(t, mustRun(t, w, "run", "--format", "json"))
	if len(rep.Discrepancies) != 1 {
		t.Fatalf("after the kind change: %v", triples(rep))
	}
	if d := rep.Discrepancies[0]; d["id"] != id || d["kind"] != "gateway_failed" || d["new"] != false || d["status"] != "open" {
		t.Fatalf("after the kind change: %v, want %s, gateway_failed, not new, open", d, id)
	}
	want("kind change", 2)
	if typ, d := lastWebhook(); typ != "discrepancy.updated" || d["id"] != id || d["kind"] != "gateway_failed" {
		t.Errorf("webhook after the kind change: %s %v", typ, d)
	}
	pd := pdEvents(t, rc.pd.accepted())
	if e := pd[1]; e.EventAction != "trigger" || e.DedupKey != id {
		t.Errorf("pagerduty after the kind change: %+v, want a trigger of %s", e, id)
	}
	if b := string(rc.slack.accepted()[1]); !strings.Contains(b, "What changed") || !strings.Contains(b, "amount_mismatch → gateway_failed") {
		t.Errorf("slack after the kind change: %s", b)
	}
	mustRun(t, w, "run")
	want("an unchanged run", 2)

	// A person resolves it, but the refund is still failed: the next run
	// reopens it under the same id.
	mustRun(t, w, "resolve", id, "--by", "bob", "--note", "thought it was re-issued")
	want("the person's resolve", 3)
	rep = decodeReport(t, mustRun(t, w, "run", "--format", "json"))
	if len(rep.Discrepancies) != 1 || rep.Discrepancies[0]["id"] != id || rep.Discrepancies[0]["status"] != "open" ||
		rep.Discrepancies[0]["new"] != false {
		t.Fatalf("after the manual resolve: %v, want %s reopened", rep.Discrepancies, id)
	}
	want("reopened", 4)
	if typ, d := lastWebhook(); typ != "discrepancy.opened" || d["id"] != id {
		t.Errorf("webhook of the reopening: %s %v", typ, d)
	}

	// The ledger row is deleted: the next run resolves the case.
	if _, err := w.db.SQLX().Exec(`DELETE FROM ledger_refunds WHERE id = 'lr_1'`); err != nil {
		t.Fatal(err)
	}
	rep = decodeReport(t, mustRun(t, w, "run", "--format", "json"))
	if len(rep.Discrepancies) != 0 {
		t.Fatalf("after the deletion: %v", triples(rep))
	}
	want("deleted row", 5)
	if typ, d := lastWebhook(); typ != "discrepancy.resolved" || d["id"] != id {
		t.Errorf("webhook of the deletion: %s %v", typ, d)
	}
	events, err := w.db.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, e := range events {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, ","); got != "opened,updated,resolved,reopened,resolved" {
		t.Errorf("history %s", got)
	}
	if last := events[len(events)-1]; !strings.Contains(last.Note, "ledger row deleted") {
		t.Errorf("the history does not say the row was deleted: %+v", last)
	}
	mustRun(t, w, "run")
	want("a last run", 5)
	if p, _ := w.db.Outbox(context.Background(), true); len(p) != 0 {
		t.Fatalf("pending alerts: %+v", p)
	}
}
