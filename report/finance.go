package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// Finance is the mismatch report: the summary and the cases, worst first.
type Finance struct {
	// Scope says which cases it holds, e.g. "open and acknowledged".
	Scope         string
	Summary       Summary
	Discrepancies []reconcile.Discrepancy
	// Paging decides which cases the HTML report marks as paging: the
	// alerts' rule (ALERT_PAGE_KINDS, ALERT_PAGE_MIN_AMOUNT). The zero
	// value marks the default page kinds.
	Paging reconcile.Paging
}

// NewFinance builds the report of ds at now, ordering ds worst first.
func NewFinance(scope string, ds []reconcile.Discrepancy, now time.Time) Finance {
	WorstFirst(ds)
	return Finance{Scope: scope, Summary: Summarize(ds, now), Discrepancies: ds}
}

// WriteFinanceText writes the report as aligned tables with totals.
func WriteFinanceText(w io.Writer, f Finance) error {
	s := f.Summary
	b := &strings.Builder{}
	fmt.Fprintf(b, "refundrecon mismatch report, %s cases, generated %s\n", f.Scope, s.GeneratedAt.Format(time.RFC3339))
	fmt.Fprintf(b, "%d cases", s.Cases)
	for _, st := range []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged, reconcile.StatusResolved} {
		fmt.Fprintf(b, ", %d %s", s.ByStatus[st], st)
	}
	b.WriteString("\n\nMoney at risk by currency (never summed across currencies):\n")
	tw := tabwriter.NewWriter(b, 0, 0, 2, ' ', tabwriter.AlignRight)
	for _, m := range s.ByCurrency {
		fmt.Fprintf(tw, "  %s\t%s\t\n", strings.ToUpper(Clean(m.Currency)), money.Grouped(m.Amount, m.Currency))
	}
	tw.Flush()
	b.WriteString("\nBy kind:\n")
	tw = tabwriter.NewWriter(b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  KIND\tCURRENCY\tCASES\tAT RISK")
	for _, t := range s.ByKind {
		fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", t.Kind, strings.ToUpper(Clean(t.Currency)), t.Cases, money.Grouped(t.AtRisk, t.Currency))
	}
	tw.Flush()
	b.WriteString("\nAgeing (since first seen):")
	for i, name := range AgeBuckets {
		fmt.Fprintf(b, " %s %d;", name, s.Ageing[i])
	}
	b.WriteString("\n")
	if len(s.RepeatCustomers) > 0 {
		b.WriteString("Customers with more than one case:")
		for _, c := range s.RepeatCustomers {
			fmt.Fprintf(b, " %s (%d)", Clean(c.CustomerID), c.Cases)
		}
		b.WriteString("\n")
	}
	b.WriteString("\nCases, worst first:\n")
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(f.Discrepancies) == 0 {
		_, err := io.WriteString(w, "  none\n")
		return err
	}
	return WriteDiscrepanciesText(w, f.Discrepancies)
}

type financeJSON struct {
	Scope       string                  `json:"scope"`
	GeneratedAt string                  `json:"generated_at"`
	Summary     summaryJSON             `json:"summary"`
	Cases       []reconcile.Discrepancy `json:"discrepancies"`
}

type summaryJSON struct {
	Cases           int              `json:"cases"`
	ByStatus        map[string]int   `json:"by_status"`
	AtRisk          []moneyJSON      `json:"at_risk_by_currency"`
	ByKind          []kindJSON       `json:"by_kind"`
	Ageing          map[string]int   `json:"ageing"`
	RepeatCustomers []map[string]any `json:"customers_with_several_cases"`
}

type moneyJSON struct {
	Currency  string `json:"currency"`
	Amount    int64  `json:"amount"`
	Formatted string `json:"formatted"`
}

type kindJSON struct {
	Kind     reconcile.Kind `json:"kind"`
	Currency string         `json:"currency"`
	Cases    int            `json:"cases"`
	AtRisk   int64          `json:"at_risk"`
}

// WriteFinanceJSON writes the report as JSON: the summary, and every case as
// in the contract's run report.
func WriteFinanceJSON(w io.Writer, f Finance) error {
	s := f.Summary
	out := financeJSON{Scope: f.Scope, GeneratedAt: s.GeneratedAt.Format(time.RFC3339), Cases: f.Discrepancies,
		Summary: summaryJSON{Cases: s.Cases, ByStatus: map[string]int{}, Ageing: map[string]int{},
			AtRisk: []moneyJSON{}, ByKind: []kindJSON{}, RepeatCustomers: []map[string]any{}}}
	if out.Cases == nil {
		out.Cases = []reconcile.Discrepancy{}
	}
	for _, st := range []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged, reconcile.StatusResolved} {
		out.Summary.ByStatus[string(st)] = s.ByStatus[st]
	}
	for _, m := range s.ByCurrency {
		out.Summary.AtRisk = append(out.Summary.AtRisk, moneyJSON{m.Currency, m.Amount, money.Grouped(m.Amount, m.Currency)})
	}
	for _, t := range s.ByKind {
		out.Summary.ByKind = append(out.Summary.ByKind, kindJSON(t))
	}
	for i, name := range AgeBuckets {
		out.Summary.Ageing[name] = s.Ageing[i]
	}
	for _, c := range s.RepeatCustomers {
		out.Summary.RepeatCustomers = append(out.Summary.RepeatCustomers, map[string]any{"customer_id": c.CustomerID, "cases": c.Cases})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
