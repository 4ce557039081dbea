package alert

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// The channel names the store's outbox knows the channels by.
const (
	SlackName     = "slack"
	PagerDutyName = "pagerduty"
	WebhookName   = "webhook"
)

// Slack posts alerts to a Slack incoming webhook: Block Kit blocks with a
// plain text fallback, one message per case, or one digest for a run's many
// cases.
type Slack struct {
	// URL is the incoming webhook; it is a secret.
	URL   string
	Rules Rules
	// DigestTop is how many cases a digest lists (default 10).
	DigestTop int
	// Client sends the requests; nil means one that follows no redirect.
	Client *http.Client
	// Now is the clock for ages; nil means time.Now.
	Now func() time.Time
}

var _ Channel = (*Slack)(nil)

// Name implements Channel.
func (s *Slack) Name() string { return SlackName }

// Send implements Channel.
func (s *Slack) Send(ctx context.Context, a reconcile.Alert) error {
	body, err := s.Message(a)
	if err != nil {
		return err
	}
	return post(ctx, s.Client, s.URL, body, nil)
}

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks"`
}

type slackBlock struct {
	Type     string      `json:"type"`
	Text     *slackText  `json:"text,omitempty"`
	Fields   []slackText `json:"fields,omitempty"`
	Elements []slackText `json:"elements,omitempty"`
}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji bool   `json:"emoji,omitempty"`
}

// Slack's limits: a header's text, a section's text and a field's text.
const (
	slackHeaderMax  = 150
	slackSectionMax = 3000
	slackFieldMax   = 2000
)

func header(text string) slackBlock {
	return slackBlock{Type: "header", Text: &slackText{Type: "plain_text", Text: truncate(clean(text), slackHeaderMax), Emoji: true}}
}

func section(mrkdwn string) slackBlock {
	return slackBlock{Type: "section", Text: &slackText{Type: "mrkdwn", Text: truncate(mrkdwn, slackSectionMax)}}
}

func fields(pairs ...string) slackBlock {
	b := slackBlock{Type: "section"}
	for i := 0; i+1 < len(pairs); i += 2 {
		b.Fields = append(b.Fields, slackText{Type: "mrkdwn", Text: truncate("*"+pairs[i]+"*\n"+pairs[i+1], slackFieldMax)})
	}
	return b
}

func contextBlock(mrkdwn string) slackBlock {
	return slackBlock{Type: "context", Elements: []slackText{{Type: "mrkdwn", Text: truncate(mrkdwn, slackSectionMax)}}}
}

// esc escapes data for Slack's mrkdwn, so that a ledger's text can neither
// format nor mention (<!channel>).
func esc(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(clean(s))
}

// code renders data as inline code.
func code(s string) string {
	if s == "" {
		return "none"
	}
	return "`" + strings.ReplaceAll(esc(s), "`", "'") + "`"
}

// Message returns the JSON body Send posts for a.
func (s *Slack) Message(a reconcile.Alert) ([]byte, error) {
	if a.Action == reconcile.AlertRunHeld {
		return heldSlack(a)
	}
	if len(a.Discrepancies) == 0 {
		return nil, errors.New("slack: alert without a discrepancy")
	}
	a = boundedAll(a)
	var m slackMessage
	if a.Digest {
		m = s.digest(a)
	} else {
		m = s.single(a, a.Discrepancies[0])
	}
	return json.Marshal(m)
}

func (s *Slack) now() time.Time {
	if s.Now != nil {
		return s.Now().UTC()
	}
	return time.Now().UTC()
}

func (s *Slack) single(a reconcile.Alert, d reconcile.Discrepancy) slackMessage {
	sev := SeverityOf(s.Rules, d)
	customer := orNone(d.CustomerID)
	var m slackMessage
	var icon, title, status, next string
	open := s.now().Sub(d.FirstSeenAt)
	if a.Action == reconcile.AlertResolved {
		icon, title = ":white_check_mark:", "Refund discrepancy resolved"
		if a.RunID != "" {
			status = "A run no longer sees this mismatch: ledger and Stripe agree again."
			next = "Nothing to do."
		} else {
			status = "Resolved by *" + esc(a.Actor) + "*: " + esc(a.Note)
			next = "Nothing to do, unless the note says otherwise. A later run reopens the case if the mismatch is still there."
		}
		m.Text = fmt.Sprintf("Resolved: %s for %s, %s (%s)", d.Kind, customer, riskText(d), d.ID)
	} else if a.Action == reconcile.AlertUpdated {
		// One message saying what changed: the case stays the same case.
		icon, title = ":arrows_counterclockwise:", "Refund discrepancy changed"
		if sev == Critical {
			icon = ":rotating_light:"
		}
		status = "*What changed*\n" + esc(orNone(a.Note)) + "\n*" + esc(d.Kind.Info().Meaning) + "*\n" + esc(d.Detail)
		next = esc(d.Kind.Info().NextStep)
		m.Text = fmt.Sprintf("Refund discrepancy changed (%s): %s for %s, %s: %s (%s)", sev, d.Kind, customer, a.Note, d.Detail, d.ID)
	} else {
		icon, title = ":warning:", "Refund discrepancy"
		if sev == Critical {
			icon = ":rotating_light:"
		}
		if a.Cycle > 1 {
			title = "Refund discrepancy back again"
		}
		status = "*" + esc(d.Kind.Info().Meaning) + "*\n" + esc(d.Detail)
		next = esc(d.Kind.Info().NextStep)
		m.Text = fmt.Sprintf("Refund discrepancy (%s): %s for %s, %s: %s (%s)", sev, d.Kind, customer, riskText(d), d.Detail, d.ID)
	}
	m.Text = truncate(esc(m.Text), slackSectionMax)

	gatewayStatus := orNone(string(d.GatewayStatus))
	if d.FailureReason != "" {
		gatewayStatus += " (" + d.FailureReason + ")"
	}
	ageText := "first seen " + d.FirstSeenAt.UTC().Format(time.RFC3339) + ", " + age(open) + " ago"
	if a.Action == reconcile.AlertResolved {
		ageText = "open " + age(open) + " (first seen " + d.FirstSeenAt.UTC().Format(time.RFC3339) + ")"
	}
	m.Blocks = []slackBlock{
		header(icon + " " + title + ": " + string(d.Kind)),
		section(status),
		fields(
			"Kind", code(string(d.Kind)),
			"Customer", code(d.CustomerID),
			"Ledger amount", esc(amountText(d.LedgerAmount, d.Currency)),
			"Gateway amount", esc(amountText(d.GatewayAmount, gatewayCurrency(d))),
			"Gateway status", esc(gatewayStatus),
			"Age", ageText,
			"Ledger refund", code(d.LedgerRefundID),
			"Gateway refunds", code(strings.Join(d.GatewayRefundIDs, ", ")),
			"Charge", code(d.ChargeID),
			"Severity", string(sev),
		),
		section("*What to do next*\n" + next),
		contextBlock(caseContext(a, d)),
	}
	return m
}

// caseContext is the small print of a case's message: its id, for ack and
// resolve, and where the alert came from.
func caseContext(a reconcile.Alert, d reconcile.Discrepancy) string {
	s := "Case " + code(d.ID)
	if a.RunID != "" {
		s += " · run " + code(a.RunID)
	}
	if a.Action == reconcile.AlertOpened {
		s += " · `refundrecon ack " + esc(d.ID) + " --by NAME`"
	}
	return s
}

// digest is one message for many cases: counts by kind, money at risk by
// currency, and the top cases by severity and amount.
func (s *Slack) digest(a reconcile.Alert) slackMessage {
	ds := a.Discrepancies
	resolved := a.Action == reconcile.AlertResolved
	counts := map[reconcile.Kind]int{}
	risk := map[string]int64{}
	pages := 0
	for _, d := range ds {
		counts[d.Kind]++
		if amount, currency := reconcile.AtRisk(d); currency != "" {
			risk[currency] += amount
		}
		if SeverityOf(s.Rules, d) == Critical {
			pages++
		}
	}

	var byKind []string
	for _, k := range reconcile.Kinds {
		if n := counts[k]; n > 0 {
			byKind = append(byKind, fmt.Sprintf("• %s: %d", code(string(k)), n))
		}
	}
	currencies := make([]string, 0, len(risk))
	for c := range risk {
		currencies = append(currencies, c)
	}
	slices.SortFunc(currencies, func(x, y string) int {
		return cmp.Or(cmp.Compare(risk[y], risk[x]), cmp.Compare(x, y))
	})
	var moneyLines, moneyShort []string
	for i, c := range currencies {
		if i == 20 {
			moneyLines = append(moneyLines, fmt.Sprintf("• and %d more currencies", len(currencies)-i))
			break
		}
		moneyLines = append(moneyLines, "• "+money.Format(risk[c], c))
		if i < 3 {
			moneyShort = append(moneyShort, money.Format(risk[c], c))
		}
	}

	top := slices.Clone(ds)
	rank := func(d reconcile.Discrepancy) int {
		if SeverityOf(s.Rules, d) == Critical {
			return 0
		}
		return 1
	}
	slices.SortFunc(top, func(x, y reconcile.Discrepancy) int {
		ax, _ := reconcile.AtRisk(x)
		ay, _ := reconcile.AtRisk(y)
		return cmp.Or(cmp.Compare(rank(x), rank(y)), cmp.Compare(ay, ax), cmp.Compare(x.ID, y.ID))
	})
	n := cmp.Or(s.DigestTop, 10)
	if len(top) > n {
		top = top[:n]
	}
	var topLines []string
	for _, d := range top {
		topLines = append(topLines, fmt.Sprintf("• %s %s, %s, %s", code(d.ID), code(string(d.Kind)), esc(orNone(d.CustomerID)), esc(riskText(d))))
	}

	verb, icon, riskTitle := "opened", ":warning:", "Money at risk"
	if a.Action == reconcile.AlertUpdated {
		verb = "changed"
	}
	if pages > 0 {
		icon = ":rotating_light:"
	}
	if resolved {
		verb, icon, riskTitle = "resolved", ":white_check_mark:", "Money no longer at risk"
	}
	title := fmt.Sprintf("%d refund discrepancies %s", len(ds), verb)
	m := slackMessage{Text: esc(fmt.Sprintf("%s by run %s (%s: %s)", title, a.RunID, strings.ToLower(riskTitle), strings.Join(moneyShort, ", ")))}
	summary := fmt.Sprintf("One run %s %d cases at once, so they come in one message.", verb, len(ds))
	if !resolved {
		summary += fmt.Sprintf(" %d of them would page on their own.", pages)
	}
	m.Blocks = []slackBlock{
		header(icon + " " + title),
		section(summary),
		section("*By kind*\n" + strings.Join(byKind, "\n")),
		section("*" + riskTitle + "*\n" + strings.Join(moneyLines, "\n")),
		section(fmt.Sprintf("*Top %d cases*\n", len(top)) + strings.Join(topLines, "\n")),
	}
	if !resolved {
		m.Blocks = append(m.Blocks, section("*What to do next*\nList every case with `refundrecon report --status open`, work through them by kind, and acknowledge each with `refundrecon ack ID --by NAME`."))
	}
	m.Blocks = append(m.Blocks, contextBlock("Run "+code(a.RunID)+" · PagerDuty and the webhook get one alert per case"))
	return m
}
