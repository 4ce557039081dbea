// Package report renders run reports, the finance mismatch report (text,
// CSV, JSON, HTML), the ledger check and the support verdict for people.
// What a kind means comes from reconcile's KindInfo, which cases page from
// reconcile.Paging, and every amount from money.Format. It imports
// reconcile and money, never the gateway or store adapters.
package report

import (
	"cmp"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// WriteRunText writes a run report as an aligned table a person can read.
func WriteRunText(w io.Writer, rep reconcile.Report) error {
	run := rep.Run
	who := "all customers"
	if run.Scope.CustomerID != "" {
		who = "customer " + run.Scope.CustomerID
	}
	since := "the beginning"
	if !run.Scope.Since.IsZero() {
		since = run.Scope.Since.UTC().Format(time.RFC3339)
	}
	newCount := 0
	for _, d := range rep.Discrepancies {
		if d.New {
			newCount++
		}
	}
	c := run.Counts
	b := &strings.Builder{}
	fmt.Fprintf(b, "refundrecon run %s %s: %s to %s, %s\n", run.ID, run.Status, since, run.Scope.Until.UTC().Format(time.RFC3339), who)
	fmt.Fprintf(b, "ledger refunds %d, gateway refunds %d, matched %d, discrepancies %d (%d new, %d resolved by this run)\n",
		c.LedgerRefunds, c.GatewayRefunds, c.Matched, c.Discrepancies, newCount, len(rep.Resolved))
	if run.Error != "" {
		fmt.Fprintf(b, "error: %s\n", run.Error)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if len(rep.Discrepancies) == 0 {
		_, err := io.WriteString(w, "\nNo discrepancies.\n")
		return err
	}
	if _, err := io.WriteString(w, "\n"); err != nil {
		return err
	}
	return WriteDiscrepanciesText(w, rep.Discrepancies)
}

// WriteDiscrepanciesText writes discrepancies as an aligned table followed
// by each one's detail sentence.
func WriteDiscrepanciesText(w io.Writer, ds []reconcile.Discrepancy) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tKIND\tSTATUS\tNEW\tCUSTOMER\tLEDGER REFUND\tGATEWAY REFUNDS\tLEDGER AMOUNT\tGATEWAY AMOUNT\tGATEWAY STATUS")
	for _, d := range ds {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			d.ID, d.Kind, d.Status, yesNo(d.New), dash(Clean(d.CustomerID)), dash(Clean(d.LedgerRefundID)),
			dash(Clean(strings.Join(d.GatewayRefundIDs, ","))), amount(d.LedgerAmount, d.Currency),
			amount(d.GatewayAmount, cmp.Or(d.GatewayCurrency, d.Currency)), dash(string(d.GatewayStatus)))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b := &strings.Builder{}
	b.WriteString("\n")
	for _, d := range ds {
		fmt.Fprintf(b, "%s %s: %s\n", d.ID, d.Kind, Clean(d.Detail))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// Clean makes a value safe for a terminal: control characters (escape
// sequences, newlines, tabs that would break the table) become spaces.
func Clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) {
			return ' '
		}
		return r
	}, s)
}

func amount(v *int64, currency string) string {
	if v == nil {
		return "-"
	}
	return money.Format(*v, currency)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
