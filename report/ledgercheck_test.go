package report

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

var (
	lcUntil = time.Date(2026, 12, 4, 12, 0, 0, 0, time.UTC)
	lcSince = lcUntil.Add(-2160 * time.Hour)
)

// goodRow is a valid ledger row; edit returns variants.
func goodRow(i int, edit ...func(*reconcile.LedgerRefund)) reconcile.LedgerRefund {
	at := lcUntil.Add(-time.Duration(i+1) * time.Hour)
	r := reconcile.LedgerRefund{
		ID: fmt.Sprintf("lr_%03d", i), CustomerID: "cus_1", ChargeID: "ch_1",
		Amount: 4500 + int64(i), Currency: "usd", Status: reconcile.LedgerComplete,
		CreatedAt: at, CompletedAt: at,
	}
	for _, e := range edit {
		e(&r)
	}
	return r
}

func rowsOf(n int, edit ...func(*reconcile.LedgerRefund)) []reconcile.LedgerRefund {
	var rows []reconcile.LedgerRefund
	for i := range n {
		rows = append(rows, goodRow(i, edit...))
	}
	return rows
}

func status(s string) func(*reconcile.LedgerRefund) {
	return func(r *reconcile.LedgerRefund) { r.Status = reconcile.LedgerStatus(s) }
}

func TestCheckLedger(t *testing.T) {
	noTimes := func(r *reconcile.LedgerRefund) { r.CreatedAt, r.CompletedAt = time.Time{}, time.Time{} }
	small := func(r *reconcile.LedgerRefund) { r.Amount = r.Amount % 1000 }
	for _, tc := range []struct {
		name          string
		rows          []reconcile.LedgerRefund
		amountType    string
		mostlyInvalid bool
		statusProblem bool
		invalid       int
		noTimes       int
		hint          string // a substring of the only hint; "" for no hint
		verdict       string // a substring of the verdict
	}{
		{name: "good ledger", rows: rowsOf(30), amountType: "INT8", verdict: "looks right: 30 rows, 0 invalid"},
		{name: "no rows", verdict: "no rows in the window"},
		{
			name: "misconfigured status", rows: rowsOf(100, status("REFUNDED")), amountType: "NUMERIC",
			mostlyInvalid: true, statusProblem: true, invalid: 100,
			hint:    "the amount column's type is NUMERIC",
			verdict: "100 of 100 rows are invalid: status values seen: REFUNDED 100; expected pending, complete or failed",
		},
		{
			name: "half invalid is not most", invalid: 10,
			rows:    append(rowsOf(10), rowsOf(10, status("refunded"))...),
			verdict: "looks right: 20 rows, 10 invalid (a run reports each as invalid_ledger_row)",
		},
		{
			name: "most invalid for another reason", invalid: 11, mostlyInvalid: true,
			rows:    append(rowsOf(9), rowsOf(11, func(r *reconcile.LedgerRefund) { r.CustomerID = "" })...),
			verdict: "11 of 20 rows are invalid, most often: customer_id is empty (11 rows)",
		},
		{
			name: "rows without timestamps", rows: append(rowsOf(8), rowsOf(2, noTimes)...),
			invalid: 2, noTimes: 2, verdict: "looks right: 10 rows, 2 invalid",
		},
		{
			name: "small amounts in dollars", rows: rowsOf(25, small), amountType: "INT8",
			hint: "every one of 25 amounts is below 1000 minor units (the largest is USD 5.24)", verdict: "but read the hint",
		},
		{name: "too few small amounts", rows: rowsOf(19, small), verdict: "looks right: 19 rows"},
		{
			name: "small amounts in yen are yen", rows: rowsOf(25, small, func(r *reconcile.LedgerRefund) { r.Currency = "JPY" }),
			verdict: "looks right: 25 rows",
		},
		{name: "decimal type on SQLite", rows: rowsOf(3), amountType: "decimal(12,2)", hint: "type is DECIMAL(12,2)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			lc := checkLedger(lcSince, lcUntil, tc.amountType, tc.rows)
			if lc.Rows != len(tc.rows) || lc.InvalidRows != tc.invalid || lc.RowsWithoutTimestamps != tc.noTimes {
				t.Errorf("rows %d invalid %d without timestamps %d, want %d %d %d",
					lc.Rows, lc.InvalidRows, lc.RowsWithoutTimestamps, len(tc.rows), tc.invalid, tc.noTimes)
			}
			if lc.MostlyInvalid != tc.mostlyInvalid || lc.StatusProblem != tc.statusProblem {
				t.Errorf("mostly invalid %v status problem %v, want %v %v", lc.MostlyInvalid, lc.StatusProblem, tc.mostlyInvalid, tc.statusProblem)
			}
			switch {
			case tc.hint == "" && len(lc.Hints) > 0:
				t.Errorf("hints %q, want none", lc.Hints)
			case tc.hint != "" && (len(lc.Hints) != 1 || !strings.Contains(lc.Hints[0], tc.hint)):
				t.Errorf("hints %q, want one containing %q", lc.Hints, tc.hint)
			}
			if !strings.Contains(lc.Verdict, tc.verdict) {
				t.Errorf("verdict %q, want it to contain %q", lc.Verdict, tc.verdict)
			}
		})
	}
}

func TestCheckLedgerCounts(t *testing.T) {
	rows := []reconcile.LedgerRefund{
		goodRow(0, func(r *reconcile.LedgerRefund) { r.Currency = "USD" }),
		goodRow(1),
		goodRow(2, func(r *reconcile.LedgerRefund) { r.Amount = 120000 }),
		goodRow(3, func(r *reconcile.LedgerRefund) { r.Currency, r.Amount = "jpy", 5000 }),
		goodRow(4, status("REFUNDED"), func(r *reconcile.LedgerRefund) { r.Currency = "ABC" }),
		goodRow(5, status("REFUNDED"), func(r *reconcile.LedgerRefund) { r.ID = "" }),
		goodRow(6, func(r *reconcile.LedgerRefund) { r.AmountNull = true }),
	}
	lc := checkLedger(lcSince, lcUntil, "", rows)
	if got, want := fmt.Sprint(lc.Statuses), "[{complete 5} {REFUNDED 2}]"; got != want {
		t.Errorf("statuses %s, want %s", got, want)
	}
	if got, want := fmt.Sprint(lc.Currencies), "[{usd 4} {ABC 1} {USD 1} {jpy 1}]"; got != want {
		t.Errorf("currencies %s, want %s", got, want)
	}
	want := []InvalidRows{
		{`status "REFUNDED" is not pending, complete or failed`, 2, "lr_004"},
		{`currency "ABC" is not an ISO 4217 code`, 1, "lr_004"},
		{"id is empty", 1, ""},
		{"amount is null", 1, "lr_006"},
	}
	if fmt.Sprint(lc.Invalid) != fmt.Sprint(want) {
		t.Errorf("invalid\n%v, want\n%v", lc.Invalid, want)
	}
	// Ranges per currency in lower case; the null amount is in none.
	if got, want := fmt.Sprint(lc.Amounts), "[{abc 1 4504 4504 ABC 4504 (minor units) ABC 4504 (minor units)} {jpy 1 5000 5000 JPY 5,000 JPY 5,000} {usd 4 4500 120000 USD 45.00 USD 1,200.00}]"; got != want {
		t.Errorf("amounts %s, want %s", got, want)
	}

	var b bytes.Buffer
	if err := WriteLedgerCheckText(&b, lc); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{
		"ledger check: 7 rows from 2026-09-05 12:00 UTC to 2026-12-04 12:00 UTC\n",
		"status values: complete 5, REFUNDED 2\n",
		"amounts:       ABC 4504 (minor units) to ABC 4504 (minor units) (1 rows); JPY 5,000 to JPY 5,000 (1 rows); USD 45.00 to USD 1,200.00 (4 rows)\n",
		"rows without timestamps: 0\n",
		"invalid rows:  3\n",
		"       2  status \"REFUNDED\" is not pending, complete or failed (e.g. lr_004)\n",
		"       1  id is empty (e.g. a row without id)\n",
		"verdict: looks right: 7 rows, 3 invalid",
	} {
		if !strings.Contains(b.String(), line) {
			t.Errorf("text lacks %q:\n%s", line, b.String())
		}
	}
}

// checkLedger checks rows at once: LedgerChecker for a slice.
func checkLedger(since, until time.Time, amountType string, rows []reconcile.LedgerRefund) LedgerCheck {
	var c LedgerChecker
	for _, r := range rows {
		c.Add(r)
	}
	return c.Result(since, until, amountType)
}
