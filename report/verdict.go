package report

import (
	"fmt"
	"io"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// WriteVerdict writes the on-demand check of one customer in words a
// support agent can read out: one line of verdict, then each problem.
func WriteVerdict(w io.Writer, rep reconcile.Report) error {
	run := rep.Run
	c := run.Counts
	b := &strings.Builder{}
	fmt.Fprintf(b, "Customer %s: %d ledger refunds, %d Stripe refunds checked (run %s).\n",
		Clean(run.Scope.CustomerID), c.LedgerRefunds, c.GatewayRefunds, run.ID)
	if len(rep.Discrepancies) == 0 {
		b.WriteString("Verdict: no problem found. Every refund the ledger records for this customer agrees with Stripe.\n")
		_, err := io.WriteString(w, b.String())
		return err
	}
	notRefunded := 0
	for _, d := range rep.Discrepancies {
		switch d.Kind {
		case reconcile.MissingAtGateway, reconcile.GatewayFailed, reconcile.GatewayCanceled:
			notRefunded++
		}
	}
	fmt.Fprintf(b, "Verdict: %d problem(s) found", len(rep.Discrepancies))
	if notRefunded > 0 {
		fmt.Fprintf(b, "; %d refund(s) the ledger calls complete did NOT reach the customer", notRefunded)
	}
	b.WriteString(".\n\n")
	for i, d := range rep.Discrepancies {
		fmt.Fprintf(b, "%d. %s [%s, case %s, %s]\n   %s\n", i+1, what(d.Kind), d.Kind, d.ID, d.Status, Clean(d.Detail))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// what says in a few words what a kind means for the customer.
func what(k reconcile.Kind) string {
	switch k {
	case reconcile.MissingAtGateway:
		return "Refund never reached Stripe: the customer was not refunded."
	case reconcile.GatewayFailed:
		return "Stripe failed the refund: the customer was not refunded."
	case reconcile.GatewayCanceled:
		return "Stripe canceled the refund: the customer was not refunded."
	case reconcile.DuplicateAtGateway:
		return "Refunded more than once at Stripe."
	case reconcile.GatewayPendingTooLong:
		return "Refund still pending at Stripe."
	case reconcile.CurrencyMismatch:
		return "Refunded in a different currency than recorded."
	case reconcile.AmountMismatch:
		return "Refunded a different amount than recorded."
	case reconcile.CustomerMismatch:
		return "Refund went to a charge of another customer."
	case reconcile.LedgerNotComplete:
		return "Stripe refunded the customer but the ledger does not say so."
	case reconcile.MissingInLedger:
		return "Stripe refunded the customer with no ledger record."
	case reconcile.InvalidLedgerRow:
		return "The ledger's record of this refund is malformed."
	}
	return string(k)
}
