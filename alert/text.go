package alert

import (
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// amountText renders an amount of minor units with its currency, or "none".
func amountText(v *int64, currency string) string {
	if v == nil {
		return "none"
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
