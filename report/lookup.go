package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Lookup is a support look-up: what was asked, the customers found behind
// it and the check of each.
type Lookup struct {
	Found   reconcile.Found
	Reports []reconcile.Report
	// Now stamps the JSON of a look-up that matched nothing (no run).
	Now time.Time
}

// NothingFound reports whether the look-up matched nothing at all.
func (l Lookup) NothingFound() bool { return len(l.Reports) == 0 }

// Verdict is the sentence read out: one per customer, or the sentence that
// says nothing matched and what was searched.
func (l Lookup) Verdict() string {
	if l.NothingFound() {
		return l.Found.NothingFound()
	}
	if len(l.Reports) == 1 {
		return VerdictSentence(l.Reports[0])
	}
	parts := make([]string, len(l.Reports))
	for i, rep := range l.Reports {
		parts[i] = "Customer " + Clean(rep.Run.Scope.CustomerID) + ": " + VerdictSentence(rep)
	}
	return strings.Join(parts, " ")
}

// WriteLookupText writes the look-up as `lookup` prints it: what was
// found, then each customer's verdict as `customer` prints it.
func WriteLookupText(w io.Writer, l Lookup) error {
	if l.NothingFound() {
		_, err := fmt.Fprintln(w, l.Verdict())
		return err
	}
	ids := make([]string, len(l.Reports))
	for i, rep := range l.Reports {
		ids[i] = Clean(rep.Run.Scope.CustomerID)
	}
	if _, err := fmt.Fprintf(w, "Lookup %q: %s (%s).\n\n", Clean(l.Found.Query), plural(len(ids), "customer"), strings.Join(ids, ", ")); err != nil {
		return err
	}
	for i, rep := range l.Reports {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := WriteVerdict(w, rep); err != nil {
			return err
		}
	}
	return nil
}

// jsonLookupRefund is one refund of the lookup JSON.
type jsonLookupRefund struct {
	LedgerRefundID   *string  `json:"ledger_refund_id"`
	GatewayRefundIDs []string `json:"gateway_refund_ids"`
	ChargeID         *string  `json:"charge_id"`
	Currency         *string  `json:"currency"`
	Amount           *int64   `json:"amount"`
	State            string   `json:"state"`
	SentAt           *string  `json:"sent_at"`
	ARN              *string  `json:"arn"`
	DiscrepancyID    *string  `json:"discrepancy_id"`
	Explanation      string   `json:"explanation"`
}

// MarshalJSON encodes the contract's lookup JSON: the run report's fields
// (of the customers' checks together), plus query, customers, verdict and
// refunds.
func (l Lookup) MarshalJSON() ([]byte, error) {
	merged := l.merged()
	base, err := json.Marshal(merged)
	if err != nil {
		return nil, err
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(base, &fields); err != nil {
		return nil, err
	}
	customers := make([]string, 0, len(l.Reports))
	refunds := []jsonLookupRefund{}
	for _, rep := range l.Reports {
		customers = append(customers, rep.Run.Scope.CustomerID)
		refunds = append(refunds, lookupRefunds(rep)...)
	}
	for k, v := range map[string]any{"query": l.Found.Query, "customers": customers, "verdict": l.Verdict(), "refunds": refunds} {
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		fields[k] = b
	}
	return json.Marshal(fields)
}

// merged is the run report of the look-up: one customer's as it is; several
// customers' counts added and discrepancies joined under the first run.
func (l Lookup) merged() reconcile.Report {
	if l.NothingFound() {
		now := l.Now.UTC()
		if now.IsZero() {
			now = time.Now().UTC()
		}
		return reconcile.Report{Run: reconcile.Run{StartedAt: now, FinishedAt: now, Status: reconcile.RunSucceeded,
			Scope: reconcile.Scope{Until: now}}}
	}
	m := l.Reports[0]
	m.Discrepancies = append([]reconcile.Discrepancy(nil), m.Discrepancies...)
	for _, rep := range l.Reports[1:] {
		m.Run.Scope.CustomerID = "" // several customers: null
		c := &m.Run.Counts
		c.LedgerRefunds += rep.Run.Counts.LedgerRefunds
		c.GatewayRefunds += rep.Run.Counts.GatewayRefunds
		c.Matched += rep.Run.Counts.Matched
		c.Discrepancies += rep.Run.Counts.Discrepancies
		m.Discrepancies = append(m.Discrepancies, rep.Discrepancies...)
		if rep.Run.FinishedAt.After(m.Run.FinishedAt) {
			m.Run.FinishedAt = rep.Run.FinishedAt
		}
		if rep.Run.Status != reconcile.RunSucceeded {
			m.Run.Status = rep.Run.Status
		}
	}
	return m
}

// lookupRefunds is every refund of one check, newest first.
func lookupRefunds(rep reconcile.Report) []jsonLookupRefund {
	cases := make(map[string]reconcile.Discrepancy, len(rep.Discrepancies))
	for _, d := range rep.Discrepancies {
		cases[d.ID] = d
	}
	outcomes := append([]reconcile.RefundOutcome(nil), rep.Refunds...)
	SortOutcomes(outcomes)
	out := make([]jsonLookupRefund, 0, len(outcomes))
	for _, o := range outcomes {
		d, isCase := cases[o.DiscrepancyID]
		var g *reconcile.GatewayRefund
		if len(o.Gateway) > 0 {
			g = &o.Gateway[0]
		}
		r := jsonLookupRefund{GatewayRefundIDs: []string{}, State: string(o.State(d.Kind, isCase))}
		for _, gr := range o.Gateway {
			r.GatewayRefundIDs = append(r.GatewayRefundIDs, gr.ID)
		}
		switch {
		case o.HasLedger:
			l := o.Ledger
			r.LedgerRefundID = str(l.ID)
			r.ChargeID = str(l.ChargeID)
			r.Currency = str(strings.ToLower(l.Currency))
			if !l.AmountNull {
				amount := l.Amount
				r.Amount = &amount
			}
			if r.ChargeID == nil && g != nil {
				r.ChargeID = str(g.ChargeID)
			}
		case g != nil:
			r.ChargeID = str(g.ChargeID)
			r.Currency = str(g.Currency)
			amount := g.Amount
			r.Amount = &amount
		}
		if sent := o.SentAt(); !sent.IsZero() {
			r.SentAt = str(sent.UTC().Format(time.RFC3339))
		}
		r.ARN = str(o.ARN())
		if isCase {
			r.DiscrepancyID = str(d.ID)
		}
		expl := meaning(o, g, d, isCase)
		if a := Appear(o); a != "" {
			expl = a + " " + sentenceCase(expl)
		}
		r.Explanation = expl
		out = append(out, r)
	}
	return out
}

func str(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
