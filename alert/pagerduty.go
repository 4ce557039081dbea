package alert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// DefaultPagerDutyURL is the PagerDuty Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// PagerDuty sends Events API v2 events: a trigger when a case opens and a
// resolve when it closes, both with the case's id as dedup_key, so that
// PagerDuty keeps one incident per case whatever is sent twice.
type PagerDuty struct {
	// URL is the events endpoint (default DefaultPagerDutyURL).
	URL string
	// RoutingKey is the integration key; it is a secret.
	RoutingKey string
	Rules      Rules
	// Client sends the requests; nil means one that follows no redirect.
	Client *http.Client
}

var _ Channel = (*PagerDuty)(nil)

// Name implements Channel.
func (p *PagerDuty) Name() string { return PagerDutyName }

// Send implements Channel.
func (p *PagerDuty) Send(ctx context.Context, a reconcile.Alert) error {
	body, err := p.Event(a)
	if err != nil {
		return err
	}
	url := p.URL
	if url == "" {
		url = DefaultPagerDutyURL
	}
	return post(ctx, p.Client, url, body, nil, p.RoutingKey)
}

type pdEvent struct {
	RoutingKey  string     `json:"routing_key"`
	EventAction string     `json:"event_action"`
	DedupKey    string     `json:"dedup_key"`
	Payload     *pdPayload `json:"payload,omitempty"`
	Client      string     `json:"client,omitempty"`
}

type pdPayload struct {
	Summary       string          `json:"summary"`
	Source        string          `json:"source"`
	Severity      Severity        `json:"severity"`
	Timestamp     string          `json:"timestamp,omitempty"`
	Component     string          `json:"component"`
	Group         string          `json:"group,omitempty"`
	Class         string          `json:"class"`
	CustomDetails pdCustomDetails `json:"custom_details"`
}

type pdCustomDetails struct {
	AmountAtRisk string                `json:"amount_at_risk"`
	NextStep     string                `json:"next_step"`
	Discrepancy  reconcile.Discrepancy `json:"discrepancy"`
}

// pdSummaryMax is PagerDuty's limit on a summary.
const pdSummaryMax = 1024

// Event returns the JSON body Send posts for a.
func (p *PagerDuty) Event(a reconcile.Alert) ([]byte, error) {
	if a.Action == reconcile.AlertRunHeld {
		return p.heldEvent(a)
	}
	if a.Digest || len(a.Discrepancies) != 1 {
		return nil, errors.New("pagerduty: an event is about exactly one case (no digests)")
	}
	d := bounded(a.Discrepancies[0])
	e := pdEvent{RoutingKey: p.RoutingKey, DedupKey: d.ID}
	if a.Action == reconcile.AlertResolved {
		e.EventAction = "resolve"
		return json.Marshal(e)
	}
	e.EventAction, e.Client = "trigger", "refundrecon"
	summary := fmt.Sprintf("%s: %s for %s. %s", d.Kind, riskText(d), orNone(d.CustomerID), d.Kind.Info().Meaning)
	if a.Action == reconcile.AlertUpdated {
		// The same incident (same dedup_key), re-triggered with what changed.
		summary = fmt.Sprintf("Changed (%s). %s", a.Note, summary)
	}
	if d.LedgerRefundID != "" {
		summary += " Ledger refund " + d.LedgerRefundID + "."
	}
	e.Payload = &pdPayload{
		Summary:   truncate(clean(summary), pdSummaryMax),
		Source:    "refundrecon",
		Severity:  SeverityOf(p.Rules, d),
		Component: "refunds",
		Group:     d.CustomerID,
		Class:     string(d.Kind),
		CustomDetails: pdCustomDetails{
			AmountAtRisk: riskText(d),
			NextStep:     d.Kind.Info().NextStep,
			Discrepancy:  d,
		},
	}
	if !d.LastSeenAt.IsZero() {
		e.Payload.Timestamp = d.LastSeenAt.UTC().Format(time.RFC3339)
	}
	return json.Marshal(e)
}
