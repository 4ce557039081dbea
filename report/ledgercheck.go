package report

import (
	"cmp"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// LedgerCheck is what `refundrecon ledger check` saw in the rows a
// LEDGER_QUERY returned. Its JSON form (`ledger check --format json`) is:
//
//	{
//	  "since": "2026-09-05T17:42:13Z", "until": "2026-12-04T17:42:13Z",
//	  "rows": 100,
//	  "statuses": [{"value": "REFUNDED", "rows": 100}],      // as the ledger wrote them, most first
//	  "currencies": [{"value": "usd", "rows": 100}],         // idem
//	  "invalid_rows": 100,
//	  "invalid": [{"reason": "status \"REFUNDED\" is not pending, complete or failed",
//	               "rows": 100, "example_id": "sr_0001"}], // example_id is "" for a row without id
//	  "amounts": [{"currency": "usd", "rows": 100, "min": 1, "max": 999,
//	               "min_text": "USD 0.01", "max_text": "USD 9.99"}], // minor units, per currency in lower case
//	  "rows_without_timestamps": 0,                          // neither created_at nor completed_at
//	  "amount_type": "NUMERIC",                              // the driver's type of the amount column; "" unknown
//	  "hints": ["amounts look like major units: …"],
//	  "mostly_invalid": true,                                // more than half the rows invalid: exit 2
//	  "status_problem": true,                                // more than half the rows have an unknown status
//	  "verdict": "100 of 100 rows are invalid: status values seen: REFUNDED 100; expected pending, complete or failed"
//	}
type LedgerCheck struct {
	Since                 time.Time     `json:"since"`
	Until                 time.Time     `json:"until"`
	Rows                  int           `json:"rows"`
	Statuses              []ValueCount  `json:"statuses"`
	Currencies            []ValueCount  `json:"currencies"`
	InvalidRows           int           `json:"invalid_rows"`
	Invalid               []InvalidRows `json:"invalid"`
	Amounts               []AmountRange `json:"amounts"`
	RowsWithoutTimestamps int           `json:"rows_without_timestamps"`
	AmountType            string        `json:"amount_type"`
	Hints                 []string      `json:"hints"`
	MostlyInvalid         bool          `json:"mostly_invalid"`
	StatusProblem         bool          `json:"status_problem"`
	Verdict               string        `json:"verdict"`
}

// ValueCount is one value of a column and the number of rows holding it.
type ValueCount struct {
	Value string `json:"value"`
	Rows  int    `json:"rows"`
}

// InvalidRows counts the rows that break one column rule, with one of them.
type InvalidRows struct {
	Reason    string `json:"reason"`
	Rows      int    `json:"rows"`
	ExampleID string `json:"example_id"`
}

// AmountRange is the smallest and largest amount of one currency, in minor
// units and formatted.
type AmountRange struct {
	Currency string `json:"currency"`
	Rows     int    `json:"rows"`
	Min      int64  `json:"min"`
	Max      int64  `json:"max"`
	MinText  string `json:"min_text"`
	MaxText  string `json:"max_text"`
}

// smallAmountRows is how many amounts the "every amount is small" hint
// needs before it speaks: a handful of small refunds prove nothing.
const smallAmountRows = 20

// LedgerChecker accumulates ledger rows one at a time, so a large ledger is
// checked without holding it in memory. The zero value is ready to use.
type LedgerChecker struct {
	rows, invalid, noTimes, badStatus int
	statuses, currencies              map[string]int
	reasons                           map[string]*InvalidRows
	reasonOrder                       []string
	amounts                           map[string]*AmountRange
}

// Add takes one row as the ledger query returned it.
func (c *LedgerChecker) Add(r reconcile.LedgerRefund) {
	if c.statuses == nil {
		c.statuses, c.currencies = map[string]int{}, map[string]int{}
		c.reasons, c.amounts = map[string]*InvalidRows{}, map[string]*AmountRange{}
	}
	c.rows++
	c.statuses[string(r.Status)]++
	c.currencies[r.Currency]++
	if r.CreatedAt.IsZero() && r.CompletedAt.IsZero() {
		c.noTimes++
	}
	if !r.AmountNull {
		cur := strings.ToLower(r.Currency)
		a := c.amounts[cur]
		if a == nil {
			a = &AmountRange{Currency: cur, Min: r.Amount, Max: r.Amount}
			c.amounts[cur] = a
		}
		a.Rows++
		a.Min, a.Max = min(a.Min, r.Amount), max(a.Max, r.Amount)
	}
	problems := r.Problems(money.Valid)
	if len(problems) == 0 {
		return
	}
	c.invalid++
	statusBad := false
	for _, p := range problems {
		// The status rule's words are `status "X" is not …`; the
		// completed_at rule also starts with "status" but is not about
		// the value.
		if strings.HasPrefix(p, `status "`) {
			statusBad = true
		}
		g := c.reasons[p]
		if g == nil {
			g = &InvalidRows{Reason: p, ExampleID: r.ID}
			c.reasons[p] = g
			c.reasonOrder = append(c.reasonOrder, p)
		}
		g.Rows++
	}
	if statusBad {
		c.badStatus++
	}
}

// Result judges the rows added so far. amountType is the database's type
// name of the amount column (sql.ColumnType.DatabaseTypeName), "" when
// unknown.
func (c *LedgerChecker) Result(since, until time.Time, amountType string) LedgerCheck {
	lc := LedgerCheck{
		Since: since.UTC(), Until: until.UTC(), Rows: c.rows, InvalidRows: c.invalid,
		RowsWithoutTimestamps: c.noTimes, AmountType: amountType,
		Statuses: counted(c.statuses), Currencies: counted(c.currencies),
		Invalid: []InvalidRows{}, Amounts: []AmountRange{}, Hints: []string{},
	}
	for _, p := range c.reasonOrder {
		lc.Invalid = append(lc.Invalid, *c.reasons[p])
	}
	slices.SortStableFunc(lc.Invalid, func(a, b InvalidRows) int { return cmp.Compare(b.Rows, a.Rows) })
	for _, a := range c.amounts {
		a.MinText, a.MaxText = money.Format(a.Min, a.Currency), money.Format(a.Max, a.Currency)
		lc.Amounts = append(lc.Amounts, *a)
	}
	slices.SortFunc(lc.Amounts, func(a, b AmountRange) int { return cmp.Compare(a.Currency, b.Currency) })
	if h := majorUnitsHint(amountType, lc.Amounts); h != "" {
		lc.Hints = append(lc.Hints, h)
	}
	lc.MostlyInvalid = c.rows > 0 && 2*c.invalid > c.rows
	lc.StatusProblem = c.rows > 0 && 2*c.badStatus > c.rows
	switch {
	case c.rows == 0:
		lc.Verdict = "no rows in the window: nothing to judge; check the window (--since, --until) and LEDGER_QUERY's WHERE clause"
	case lc.MostlyInvalid:
		lc.Verdict = fmt.Sprintf("%d of %d rows are invalid", c.invalid, c.rows)
		if lc.StatusProblem {
			lc.Verdict += ": status values seen: " + joinCounts(lc.Statuses) + "; expected pending, complete or failed"
		} else {
			lc.Verdict += fmt.Sprintf(", most often: %s (%d rows)", lc.Invalid[0].Reason, lc.Invalid[0].Rows)
		}
	default:
		lc.Verdict = fmt.Sprintf("looks right: %s, %d invalid", plural(c.rows, "row"), c.invalid)
		if c.invalid > 0 {
			lc.Verdict += " (a run reports each as invalid_ledger_row)"
		}
		if len(lc.Hints) > 0 {
			lc.Verdict += "; but read the hint about the amounts"
		}
	}
	return lc
}

// decimalTypes are the database type names (upper case, as drivers report
// them, maybe with a precision) of columns that hold fractions.
var decimalTypes = []string{"NUMERIC", "DECIMAL", "REAL", "FLOAT", "DOUBLE", "MONEY"}

// majorUnitsHint says why amounts look like major units (dollars rather than
// cents), or "" when nothing says so: the column is a decimal type, or every
// amount of enough rows in two-decimal currencies is below 1000 minor units.
func majorUnitsHint(amountType string, amounts []AmountRange) string {
	const fix = "the contract wants whole minor units (cents; yen for JPY) in a bigint: if the column holds major units, multiply in LEDGER_QUERY (amount_major * 100 AS amount)"
	t := strings.ToUpper(strings.TrimSpace(amountType))
	for _, d := range decimalTypes {
		if strings.HasPrefix(t, d) {
			return fmt.Sprintf("amounts may be major units: the amount column's type is %s, a decimal type; %s", t, fix)
		}
	}
	n := 0
	var largest AmountRange
	for _, a := range amounts {
		if money.Digits(a.Currency) != 2 {
			return "" // the rule below is for two-decimal currencies only
		}
		if a.Max >= 1000 {
			return ""
		}
		n += a.Rows
		if a.Max >= largest.Max {
			largest = a
		}
	}
	if n < smallAmountRows {
		return ""
	}
	return fmt.Sprintf("amounts may be major units: every one of %d amounts is below 1000 minor units (the largest is %s) in two-decimal currencies; %s",
		n, largest.MaxText, fix)
}

// counted sorts value counts, most rows first, then by value.
func counted(m map[string]int) []ValueCount {
	out := make([]ValueCount, 0, len(m))
	for v, n := range m {
		out = append(out, ValueCount{v, n})
	}
	slices.SortFunc(out, func(a, b ValueCount) int {
		return cmp.Or(cmp.Compare(b.Rows, a.Rows), cmp.Compare(a.Value, b.Value))
	})
	return out
}

// joinCounts writes counts as "REFUNDED 2000, refunded 3"; an empty value
// is (empty).
func joinCounts(cs []ValueCount) string {
	var parts []string
	for _, c := range cs {
		v := Clean(c.Value)
		if v == "" {
			v = "(empty)"
		}
		parts = append(parts, fmt.Sprintf("%s %d", v, c.Rows))
	}
	return strings.Join(parts, ", ")
}

// maxReasons bounds the invalid reasons the text lists: reasons quote the
// bad value, and a ledger can hold many different bad values.
const maxReasons = 20

// WriteLedgerCheckText writes a LedgerCheck for a person, ending with the
// one-line verdict.
func WriteLedgerCheckText(w io.Writer, lc LedgerCheck) error {
	b := &strings.Builder{}
	const day = "2006-01-02 15:04 MST"
	fmt.Fprintf(b, "ledger check: %s from %s to %s\n", plural(lc.Rows, "row"), lc.Since.Format(day), lc.Until.Format(day))
	fmt.Fprintf(b, "status values: %s\n", orNone(joinCounts(lc.Statuses)))
	fmt.Fprintf(b, "currencies:    %s\n", orNone(joinCounts(lc.Currencies)))
	var ranges []string
	for _, a := range lc.Amounts {
		ranges = append(ranges, fmt.Sprintf("%s to %s (%d rows)", Clean(a.MinText), Clean(a.MaxText), a.Rows))
	}
	fmt.Fprintf(b, "amounts:       %s\n", orNone(strings.Join(ranges, "; ")))
	if lc.AmountType != "" {
		fmt.Fprintf(b, "amount type:   %s\n", Clean(lc.AmountType))
	}
	fmt.Fprintf(b, "rows without timestamps: %d\n", lc.RowsWithoutTimestamps)
	fmt.Fprintf(b, "invalid rows:  %d\n", lc.InvalidRows)
	for i, g := range lc.Invalid {
		if i == maxReasons {
			fmt.Fprintf(b, "  … and %d more reasons\n", len(lc.Invalid)-maxReasons)
			break
		}
		ex := "a row without id"
		if g.ExampleID != "" {
			ex = Clean(g.ExampleID)
		}
		fmt.Fprintf(b, "  %6d  %s (e.g. %s)\n", g.Rows, Clean(g.Reason), ex)
	}
	for _, h := range lc.Hints {
		fmt.Fprintf(b, "hint: %s\n", h)
	}
	fmt.Fprintf(b, "verdict: %s\n", lc.Verdict)
	_, err := io.WriteString(w, b.String())
	return err
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
