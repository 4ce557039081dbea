package alert

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// meaning says in one sentence what a kind means for the customer.
func meaning(k reconcile.Kind) string {
	switch k {
	case reconcile.MissingAtGateway:
		return "The ledger says refunded, but the refund never reached Stripe: the customer was not refunded."
	case reconcile.GatewayFailed:
		return "Stripe failed the refund: the customer was not refunded."
	case reconcile.GatewayCanceled:
		return "Stripe canceled the refund: the customer was not refunded."
	case reconcile.DuplicateAtGateway:
		return "Stripe refunded the customer more than once for one ledger refund."
	case reconcile.GatewayPendingTooLong:
		return "The refund has been pending at Stripe for too long."
	case reconcile.CurrencyMismatch:
		return "Stripe refunded in another currency than the ledger recorded."
	case reconcile.AmountMismatch:
		return "Stripe refunded another amount than the ledger recorded."
	case reconcile.CustomerMismatch:
		return "The refund went to a charge of another customer."
	case reconcile.LedgerNotComplete:
		return "Stripe refunded the customer, but the ledger does not call the refund complete."
	case reconcile.MissingInLedger:
		return "Stripe refunded money that no ledger refund records."
	case reconcile.InvalidLedgerRow:
		return "The ledger's row for this refund breaks the ledger's column rules."
	}
	return "Ledger and Stripe disagree about a refund."
}

// nextStep says what a person should do about an open case.
func nextStep(k reconcile.Kind) string {
	switch k {
	case reconcile.MissingAtGateway:
		return "Issue the refund in Stripe (or tell the customer it was not made), then record its re_ id in the ledger."
	case reconcile.GatewayFailed:
		return "Contact the customer for another way to pay them back (the card can no longer take the refund), and mark the ledger refund failed until it is re-issued."
	case reconcile.GatewayCanceled:
		return "Find out who canceled it; re-issue the refund in Stripe or mark the ledger refund failed."
	case reconcile.DuplicateAtGateway:
		return "Check the extra refunds in the Stripe dashboard: record them in the ledger, or recover the money from the customer."
	case reconcile.GatewayPendingTooLong:
		return "Open the refund in the Stripe dashboard: it may need action (requires_action); ask Stripe support if it stays pending."
	case reconcile.CurrencyMismatch, reconcile.AmountMismatch:
		return "Compare the ledger row with the Stripe refund; correct the ledger, or refund the difference to the customer."
	case reconcile.CustomerMismatch:
		return "Check which customer was meant to be refunded; correct the ledger row or refund the right customer."
	case reconcile.LedgerNotComplete:
		return "Mark the ledger refund complete (with the Stripe refund id) so that support sees the customer was refunded."
	case reconcile.MissingInLedger:
		return "Find out who issued this refund outside the ledger, and record it there."
	case reconcile.InvalidLedgerRow:
		return "Fix the ledger row (see the detail): refundrecon cannot judge it until it is valid."
	}
	return "Compare the ledger row with the Stripe refund."
}

// amountText renders an amount of minor units with its currency, or "none".
func amountText(v *int64, currency string) string {
	if v == nil {
		return "none"
	}
	if currency == "" {
		return fmt.Sprintf("%d (no currency)", *v)
	}
	return money.Format(*v, currency)
}

// gatewayCurrency is the currency of a case's gateway amount.
func gatewayCurrency(d reconcile.Discrepancy) string {
	if d.GatewayCurrency != "" {
		return d.GatewayCurrency
	}
	return d.Currency
}

// riskText renders AmountAtRisk.
func riskText(d reconcile.Discrepancy) string {
	amount, currency := reconcile.AtRisk(d)
	if currency == "" {
		return "unknown"
	}
	return money.Format(amount, currency)
}

// age renders a duration the way a person says it: "3d 4h", "2h 5m",
// "under a minute".
func age(d time.Duration) string {
	switch {
	case d < time.Minute:
		return "under a minute"
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 24*time.Hour:
		return fmt.Sprintf("%dh %dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
	}
	return fmt.Sprintf("%dd %dh", int(d/(24*time.Hour)), int(d%(24*time.Hour)/time.Hour))
}

// orNone is s, or "none" when empty.
func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// clean removes control characters (a ledger's text could hold any) and
// keeps the newlines the message itself writes out of data.
func clean(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

// Payload limits: PagerDuty refuses an event over 512 KB, Slack truncates
// or refuses long messages, and a receiver should never get megabytes for
// one case. A case's text fields are cut to these sizes (on a rune
// boundary, marked with "…") before any channel renders them; the whole
// case stays in refundrecon.
const (
	maxFieldBytes  = 512  // an id, a currency, a status or a reason
	maxDetailBytes = 4096 // the detail sentence
	maxRefundIDs   = 100  // gateway refund ids listed
)

// bounded returns d with its text fields cut to the payload limits; a case
// within them is returned as it is.
func bounded(d reconcile.Discrepancy) reconcile.Discrepancy {
	d.ID, d.CustomerID = truncate(d.ID, maxFieldBytes), truncate(d.CustomerID, maxFieldBytes)
	d.LedgerRefundID, d.ChargeID = truncate(d.LedgerRefundID, maxFieldBytes), truncate(d.ChargeID, maxFieldBytes)
	d.Currency, d.GatewayCurrency = truncate(d.Currency, maxFieldBytes), truncate(d.GatewayCurrency, maxFieldBytes)
	d.GatewayStatus = reconcile.GatewayStatus(truncate(string(d.GatewayStatus), maxFieldBytes))
	d.FailureReason = truncate(d.FailureReason, maxFieldBytes)
	d.Detail = truncate(d.Detail, maxDetailBytes)
	ids := d.GatewayRefundIDs
	if len(ids) > maxRefundIDs {
		ids = ids[:maxRefundIDs]
	}
	for i, id := range ids {
		if len(id) > maxFieldBytes {
			if &ids[0] == &d.GatewayRefundIDs[0] {
				ids = append([]string(nil), ids...)
			}
			ids[i] = truncate(id, maxFieldBytes)
		}
	}
	d.GatewayRefundIDs = ids
	return d
}

// boundedAll is bounded for each case of a.
func boundedAll(a reconcile.Alert) reconcile.Alert {
	ds := make([]reconcile.Discrepancy, len(a.Discrepancies))
	for i, d := range a.Discrepancies {
		ds[i] = bounded(d)
	}
	a.Discrepancies = ds
	return a
}
