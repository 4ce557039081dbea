package alert

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// This file renders the run.held alert (reconcile/hold.go) on each
// channel: a run that opened too many new cases holds their alerts and
// sends this one instead.

// errNoHeldRun: a run.held alert without its run.
var errNoHeldRun = errors.New("run.held alert without its run")

type heldBody struct {
	Type   string            `json:"type"`
	SentAt string            `json:"sent_at"`
	Run    reconcile.HeldRun `json:"run"`
}

// heldWebhookBody is the contract's
// {"type": "run.held", "sent_at", "run": {"run_id", "new_discrepancies", "refunds_in_scope"}}.
func heldWebhookBody(a reconcile.Alert, now time.Time) ([]byte, error) {
	if a.Held == nil {
		return nil, errNoHeldRun
	}
	return json.Marshal(heldBody{Type: a.Action.Type(), SentAt: now.UTC().Format(time.RFC3339), Run: *a.Held})
}

// heldSlack says how many cases wait and how to release or discard them.
func heldSlack(a reconcile.Alert) ([]byte, error) {
	h := a.Held
	if h == nil {
		return nil, errNoHeldRun
	}
	n := strconv.Itoa(h.NewDiscrepancies)
	m := slackMessage{
		Text: ":pause_button: Run " + h.RunID + " is held: " + n + " new discrepancies wait for release. " + h.HeldMessage(),
		Blocks: []slackBlock{
			header("⏸ Run held: " + n + " new discrepancies wait"),
			section(esc(h.HeldMessage())),
			fields("New discrepancies", n, "Refunds in scope", strconv.Itoa(h.RefundsInScope)),
			section("*Release* (send their alerts): " + code("refundrecon release "+h.RunID+" --by NAME") +
				"\n*Discard* (resolve them, no alerts): " + code("refundrecon discard "+h.RunID+" --by NAME --note TEXT")),
			contextBlock("refundrecon · run " + code(h.RunID)),
		},
	}
	return json.Marshal(m)
}

// pdHeld is the PagerDuty event of a held run: its custom details are the
// run and what to do, not a case.
type pdHeld struct {
	RoutingKey  string        `json:"routing_key"`
	EventAction string        `json:"event_action"`
	DedupKey    string        `json:"dedup_key"`
	Payload     pdHeldPayload `json:"payload"`
	Client      string        `json:"client"`
}

type pdHeldPayload struct {
	Summary       string        `json:"summary"`
	Source        string        `json:"source"`
	Severity      Severity      `json:"severity"`
	Timestamp     string        `json:"timestamp,omitempty"`
	Component     string        `json:"component"`
	Class         string        `json:"class"`
	CustomDetails pdHeldDetails `json:"custom_details"`
}

type pdHeldDetails struct {
	NextStep string            `json:"next_step"`
	Run      reconcile.HeldRun `json:"run"`
}

// heldEvent is a warning trigger deduplicated on the run id.
func (p *PagerDuty) heldEvent(a reconcile.Alert) ([]byte, error) {
	h := a.Held
	if h == nil {
		return nil, errNoHeldRun
	}
	e := pdHeld{RoutingKey: p.RoutingKey, EventAction: "trigger", DedupKey: h.RunID, Client: "refundrecon",
		Payload: pdHeldPayload{
			Summary: truncate(clean("Run "+h.RunID+" held: "+strconv.Itoa(h.NewDiscrepancies)+
				" new discrepancies wait for release or discard."), pdSummaryMax),
			Source:        "refundrecon",
			Severity:      Warning,
			Component:     "refunds",
			Class:         a.Action.Type(),
			CustomDetails: pdHeldDetails{NextStep: h.HeldMessage(), Run: *h},
		}}
	if !a.CreatedAt.IsZero() {
		e.Payload.Timestamp = a.CreatedAt.UTC().Format(time.RFC3339)
	}
	return json.Marshal(e)
}
