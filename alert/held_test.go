package alert_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/alert"
	"github.com/refundrecon/refundrecon/reconcile"
)

// heldAlert is the run.held alert of the misconfigured first run.
func heldAlert() reconcile.Alert {
	return reconcile.Alert{ID: 7, Key: "run_1:x:held", Action: reconcile.AlertRunHeld, RunID: "run_1", CreatedAt: now,
		Held: &reconcile.HeldRun{RunID: "run_1", NewDiscrepancies: 2076, RefundsInScope: 2100}}
}

// TestRunHeldPayloads: the webhook sends the contract's run.held body, Slack
// says how many cases wait and how to release or discard, PagerDuty
// triggers a warning deduplicated on the run id.
func TestRunHeldPayloads(t *testing.T) {
	w := &alert.Webhook{URL: "http://x", Secret: "s"}
	body, err := w.Body(heldAlert(), now)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "webhook_run_held", body)
	var wb map[string]any
	if err := json.Unmarshal(body, &wb); err != nil {
		t.Fatal(err)
	}
	run, _ := wb["run"].(map[string]any)
	if wb["type"] != "run.held" || wb["sent_at"] != "2026-03-14T09:26:53Z" || run["run_id"] != "run_1" ||
		run["new_discrepancies"] != 2076.0 || run["refunds_in_scope"] != 2100.0 || len(wb) != 3 || len(run) != 3 {
		t.Errorf("webhook run.held body = %s", body)
	}

	s := &alert.Slack{URL: "http://x"}
	msg, err := s.Message(heldAlert())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "slack_run_held", msg)
	for _, want := range []string{"2076", "refundrecon release run_1 --by NAME", "refundrecon discard run_1 --by NAME --note TEXT"} {
		if !strings.Contains(string(msg), want) {
			t.Errorf("slack run.held lacks %q: %s", want, msg)
		}
	}

	p := &alert.PagerDuty{RoutingKey: "rk"}
	ev, err := p.Event(heldAlert())
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "pagerduty_run_held", ev)
	var pe struct {
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     struct {
			Severity string `json:"severity"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(ev, &pe); err != nil {
		t.Fatal(err)
	}
	if pe.EventAction != "trigger" || pe.DedupKey != "run_1" || pe.Payload.Severity != "warning" {
		t.Errorf("pagerduty run.held = %s", ev)
	}
	// Without its run, nothing is sent rather than an empty message.
	a := heldAlert()
	a.Held = nil
	if _, err := w.Body(a, now); err == nil {
		t.Error("webhook sent a run.held without its run")
	}
}
