package report

import (
	"cmp"
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// CSVColumns are the CSV report's columns, in order. They are stable:
// add at the end, never rename or reorder. Amounts come twice: in minor
// units (for sums) and formatted with the currency's own digits.
var CSVColumns = []string{
	"id", "kind", "status", "customer_id", "ledger_refund_id", "gateway_refund_ids", "charge_id",
	"currency", "ledger_amount", "gateway_amount", "ledger_amount_formatted", "gateway_amount_formatted",
	"gateway_status", "failure_reason", "detail", "first_seen_at", "last_seen_at", "gateway_currency",
}

// WriteCSV writes discrepancies as RFC 4180 CSV with a header row. Text a
// spreadsheet would run as a formula (=, +, -, @ first) is prefixed with a
// quote mark; gateway refund ids are separated by spaces.
func WriteCSV(w io.Writer, ds []reconcile.Discrepancy) error {
	cw := csv.NewWriter(w)
	cw.UseCRLF = true // RFC 4180
	if err := cw.Write(CSVColumns); err != nil {
		return err
	}
	for _, d := range ds {
		rec := []string{
			d.ID, string(d.Kind), string(d.Status), cell(d.CustomerID), cell(d.LedgerRefundID),
			cell(strings.Join(d.GatewayRefundIDs, " ")), cell(d.ChargeID), cell(d.Currency),
			minor(d.LedgerAmount), minor(d.GatewayAmount),
			formatted(d.LedgerAmount, d.Currency), formatted(d.GatewayAmount, cmp.Or(d.GatewayCurrency, d.Currency)),
			cell(string(d.GatewayStatus)), cell(d.FailureReason), cell(d.Detail),
			timestamp(d.FirstSeenAt), timestamp(d.LastSeenAt), cell(d.GatewayCurrency),
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// cell defuses spreadsheet formula injection in a text value.
func cell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func minor(v *int64) string {
	if v == nil {
		return ""
	}
	return strconv.FormatInt(*v, 10)
}

func formatted(v *int64, currency string) string {
	if v == nil || !money.Valid(currency) {
		return ""
	}
	return money.Decimal(*v, currency)
}

func timestamp(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}
