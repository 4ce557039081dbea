package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/reconcile"
)

// ack and resolve keep the audit trail; a resolve alerts; a case that is
// still there when the next run looks reopens and alerts again.
func TestReviewCommands(t *testing.T) {
	w := newWorld(t)
	rc := healthyReceivers(t)
	withAlerts(t, w, rc)
	twoCases(w)
	mustRun(t, w, "run")
	id := caseID(t, w, "lr_1")

	bad := []struct {
		name string
		args []string
		code int
		says string
	}{
		{"unknown id", []string{"ack", "dsc_000000000000000000000000", "--by", "alice"}, exitRunFailed, "no discrepancy has this id"},
		{"no id", []string{"ack", "--by", "alice"}, exitUsage, "one discrepancy id"},
		{"two ids", []string{"ack", id, id, "--by", "alice"}, exitUsage, "one discrepancy id"},
		{"ack without --by", []string{"ack", id}, exitUsage, "--by NAME"},
		{"resolve without --note", []string{"resolve", id, "--by", "alice"}, exitUsage, "--note TEXT"},
		{"resolve with a blank note", []string{"resolve", id, "--by", "alice", "--note", "  "}, exitUsage, "--note TEXT"},
	}
	for _, tt := range bad {
		_, stderr, err := w.run(tt.args...)
		var buf bytes.Buffer
		if code := exitCode(err, &buf); code != tt.code || !strings.Contains(buf.String()+stderr, tt.says) {
			t.Errorf("%s: exit %d (want %d), stderr %q", tt.name, code, tt.code, buf.String()+stderr)
		}
	}

	out := mustRun(t, w, "ack", id, "--by", "alice", "--note", "calling the customer")
	if !strings.Contains(out, "acknowledged "+id) {
		t.Errorf("ack says %q", out)
	}
	if got := rc.counts(); got != [3]int{2, 2, 2} {
		t.Fatalf("an acknowledgement sent alerts: %v", got)
	}
	out = mustRun(t, w, "resolve", id, "--by", "bob", "--note", "refunded the difference by bank transfer")
	if !strings.Contains(out, "resolved "+id) {
		t.Errorf("resolve says %q", out)
	}
	// The resolve went out on every channel, once.
	if got := rc.counts(); got != [3]int{3, 3, 3} {
		t.Fatalf("after the resolve: %v", got)
	}
	if e := pdEvents(t, rc.pd.accepted())[2]; e.EventAction != "resolve" || e.DedupKey != id {
		t.Errorf("pagerduty %+v", e)
	}
	if typ, d := webhookEvent(t, rc.webhook.requests()[2]); typ != "discrepancy.resolved" || d["id"] != id {
		t.Errorf("webhook %s %v", typ, d)
	}
	if s := string(rc.slack.accepted()[2]); !strings.Contains(s, "bob") || !strings.Contains(s, "bank transfer") {
		t.Errorf("slack resolve does not say who and why: %s", s)
	}

	// Resolving a resolved case is an error, and changes nothing.
	_, _, err := w.run("resolve", id, "--by", "bob", "--note", "again")
	var buf bytes.Buffer
	if code := exitCode(err, &buf); code != exitRunFailed || !strings.Contains(buf.String(), "already resolved") {
		t.Errorf("resolve twice: exit %d, %q", code, buf.String())
	}

	events, err := w.db.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var trail []string
	for _, e := range events {
		trail = append(trail, e.Actor+" "+e.Action+" "+string(e.FromStatus)+"->"+string(e.ToStatus)+" "+e.Note)
		if e.At.IsZero() {
			t.Errorf("event without a time: %+v", e)
		}
	}
	want := []string{
		"refundrecon opened ->open ",
		"alice acknowledged open->acknowledged calling the customer",
		"bob resolved acknowledged->resolved refunded the difference by bank transfer",
	}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Fatalf("audit trail:\n%s\nwant\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}

	// The ledger was never corrected: the next run reopens the case and
	// alerts again (a new PagerDuty incident under the same dedup key).
	mustRun(t, w, "run")
	if d, _ := w.db.Discrepancy(context.Background(), id); d.Status != reconcile.StatusOpen {
		t.Fatalf("not reopened: %s", d.Status)
	}
	if got := rc.counts(); got != [3]int{4, 4, 4} {
		t.Fatalf("after the reopen: %v", got)
	}
	if e := pdEvents(t, rc.pd.accepted())[3]; e.EventAction != "trigger" || e.DedupKey != id {
		t.Errorf("reopen %+v", e)
	}
	if p, _ := w.db.Outbox(context.Background(), true); len(p) != 0 {
		t.Fatalf("pending: %+v", p)
	}
	// Alerts go out without the Stripe key: ack and resolve need only the
	// database.
	delete(w.env, "STRIPE_API_KEY")
	other := caseID(t, w, "lr_2")
	mustRun(t, w, "ack", other, "--by", "carol")
	if ds, _ := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusAcknowledged}}); len(ds) != 1 || ds[0].ID != other {
		t.Fatalf("acknowledged: %+v", ds)
	}
}
