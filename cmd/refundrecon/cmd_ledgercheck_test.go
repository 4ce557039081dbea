package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// checkWorld is a migrated database (ledger_refunds included) for `ledger
// check`, with no Stripe: the check reads the ledger only.
type checkWorld struct {
	t   *testing.T
	db  *store.DB
	env map[string]string
	now time.Time
}

// eachLedgerDB runs f against a PostgreSQL schema and an SQLite file.
func eachLedgerDB(t *testing.T, f func(t *testing.T, w *checkWorld)) {
	for _, d := range []struct {
		name string
		url  func(testing.TB) string
	}{{"postgres", storetest.PostgresURL}, {"sqlite", storetest.SQLiteURL}} {
		t.Run(d.name, func(t *testing.T) {
			u := d.url(t)
			w := &checkWorld{t: t, env: map[string]string{"DATABASE_URL": u, "LOG_FORMAT": "json"}, now: time.Now().UTC()}
			if _, _, err := w.run("migrate", "--with-ledger"); err != nil {
				t.Fatalf("migrate: %v", err)
			}
			w.db = storetest.Open(t, u)
			f(t, w)
		})
	}
}

// run calls the program as main would and returns stdout, stderr and the
// exit status main would give.
func (w *checkWorld) run(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, func(k string) string { return w.env[k] }, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func (w *checkWorld) check(wantExit int, args ...string) (string, error) {
	w.t.Helper()
	out, _, err := w.run(append([]string{"ledger", "check"}, args...)...)
	if got := exitCode(err, io.Discard); got != wantExit {
		w.t.Fatalf("ledger check %q exited %d (%v), want %d; stdout:\n%s", args, got, err, wantExit, out)
	}
	return out, err
}

func (w *checkWorld) exec(query string, args ...any) {
	w.t.Helper()
	if _, err := w.db.SQLX().Exec(w.db.SQLX().Rebind(query), args...); err != nil {
		w.t.Fatalf("%s: %v", query, err)
	}
}

// timeArg is t as the dialect stores a timestamp: SQLite compares text.
func (w *checkWorld) timeArg(t time.Time) any {
	if w.db.Dialect() == store.DialectSQLite {
		return t.UTC().Format("2006-01-02T15:04:05.000000Z")
	}
	return t
}

// shopQuery is the plausible but wrong LEDGER_QUERY: the shop's
// states as status, its amounts in dollars (a numeric column) as amount.
const shopQuery = `SELECT id, customer_id, charge_id, payment_intent_id, gateway_refund_id,
	amount_major AS amount, currency, state AS status, completed_at, created_at
FROM shop_refunds WHERE created_at >= :since AND created_at <= :until`

// shopRefunds creates the shop's own refunds table, amounts as a decimal
// number of dollars, and fills it with n rows in the given state.
func (w *checkWorld) shopRefunds(n int, state string, cents bool) {
	w.t.Helper()
	ts := "timestamptz"
	if w.db.Dialect() == store.DialectSQLite {
		ts = "text"
	}
	w.exec(`CREATE TABLE shop_refunds (id text PRIMARY KEY, customer_id text, charge_id text, payment_intent_id text,
		gateway_refund_id text, amount_major numeric(12,2), currency text, state text, completed_at ` + ts + `, created_at ` + ts + `)`)
	for i := range n {
		at := w.now.Add(-time.Duration(i+1) * time.Hour)
		amount := float64(10 + i%90)
		if cents {
			amount += 0.99
		}
		w.exec(`INSERT INTO shop_refunds VALUES (?, ?, ?, NULL, ?, ?, 'usd', ?, ?, ?)`,
			fmt.Sprintf("sr_%04d", i), "cus_shop", fmt.Sprintf("ch_%04d", i), fmt.Sprintf("re_%04d", i),
			amount, state, w.timeArg(at), w.timeArg(at))
	}
}

func TestLedgerCheckMisconfiguredQuery(t *testing.T) {
	eachLedgerDB(t, func(t *testing.T, w *checkWorld) {
		w.shopRefunds(100, "REFUNDED", true)
		w.env["LEDGER_QUERY"] = shopQuery
		out, err := w.check(exitUsage)
		t.Logf("ledger check output:\n%s", out)
		want := "100 of 100 rows are invalid: status values seen: REFUNDED 100; expected pending, complete or failed"
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q, want it to name the status values: %q", err, want)
		}
		for _, line := range []string{
			"ledger check: 100 rows from ",
			"status values: REFUNDED 100\n",
			"currencies:    usd 100\n",
			"invalid rows:  100\n",
			"     100  status \"REFUNDED\" is not pending, complete or failed (e.g. sr_0000)\n",
			"hint: amounts may be major units: the amount column's type is NUMERIC",
			"verdict: " + want + "\n",
		} {
			if !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}

		// The JSON form says the same, and exits the same.
		out, _ = w.check(exitUsage, "--format", "json")
		var lc struct {
			Rows     int
			Statuses []struct {
				Value string
				Rows  int
			}
			InvalidRows   int `json:"invalid_rows"`
			Hints         []string
			MostlyInvalid bool `json:"mostly_invalid"`
			StatusProblem bool `json:"status_problem"`
			Verdict       string
		}
		if err := json.Unmarshal([]byte(out), &lc); err != nil {
			t.Fatalf("decode %s: %v", out, err)
		}
		if lc.Rows != 100 || lc.InvalidRows != 100 || len(lc.Statuses) != 1 || lc.Statuses[0].Value != "REFUNDED" ||
			lc.Statuses[0].Rows != 100 || !lc.MostlyInvalid || !lc.StatusProblem || len(lc.Hints) != 1 || lc.Verdict != want {
			t.Errorf("JSON %+v", lc)
		}
	})
}

func TestLedgerCheckGoodLedger(t *testing.T) {
	eachLedgerDB(t, func(t *testing.T, w *checkWorld) {
		var rows []reconcile.LedgerRefund
		for i := range 40 {
			at := w.now.Add(-time.Duration(i+1) * time.Hour).Truncate(time.Second)
			rows = append(rows, reconcile.LedgerRefund{ID: fmt.Sprintf("lr_%03d", i), CustomerID: "cus_1",
				ChargeID: fmt.Sprintf("ch_%03d", i), Amount: 4500 + int64(i)*100, Currency: "usd",
				Status: reconcile.LedgerComplete, CreatedAt: at, CompletedAt: at})
		}
		old := w.now.Add(-200 * 24 * time.Hour)
		rows = append(rows, reconcile.LedgerRefund{ID: "lr_old", CustomerID: "cus_1", Amount: 99, Currency: "eur",
			Status: reconcile.LedgerPending, CreatedAt: old})
		if err := w.db.InsertLedgerRefunds(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
		out, _ := w.check(exitOK)
		t.Logf("ledger check output:\n%s", out)
		for _, line := range []string{
			"ledger check: 40 rows from ",
			"status values: complete 40\n",
			"amounts:       USD 45.00 to USD 84.00 (40 rows)\n",
			"rows without timestamps: 0\n",
			"invalid rows:  0\n",
			"verdict: looks right: 40 rows, 0 invalid\n",
		} {
			if !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
		if strings.Contains(out, "hint:") {
			t.Errorf("a bigint ledger of cents got a hint:\n%s", out)
		}
		// --since widens the window as it does for run.
		out, _ = w.check(exitOK, "--since", "300d")
		if !strings.Contains(out, "ledger check: 41 rows from ") || !strings.Contains(out, "EUR 0.99 to EUR 0.99 (1 rows)") {
			t.Errorf("--since 300d:\n%s", out)
		}
		// A query without a required column is a configuration error.
		w.env["LEDGER_QUERY"] = "SELECT id, customer_id FROM ledger_refunds"
		if _, err := w.check(exitUsage); !strings.Contains(err.Error(), "does not return the column(s) charge_id") {
			t.Errorf("missing columns: %v", err)
		}
	})
}

func TestLedgerCheckNumericAmountHint(t *testing.T) {
	eachLedgerDB(t, func(t *testing.T, w *checkWorld) {
		w.shopRefunds(30, "complete", false) // whole dollars: each reads as a valid amount
		w.env["LEDGER_QUERY"] = shopQuery
		out, _ := w.check(exitOK)
		for _, line := range []string{
			"invalid rows:  0\n",
			"hint: amounts may be major units: the amount column's type is NUMERIC",
			"verdict: looks right: 30 rows, 0 invalid; but read the hint about the amounts\n",
		} {
			if !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
	})
}

func TestLedgerCheckRowsWithoutTimestamps(t *testing.T) {
	eachLedgerDB(t, func(t *testing.T, w *checkWorld) {
		var rows []reconcile.LedgerRefund
		for i := range 20 {
			at := w.now.Add(-time.Duration(i+1) * time.Hour).Truncate(time.Second)
			r := reconcile.LedgerRefund{ID: fmt.Sprintf("lr_%03d", i), CustomerID: "cus_1", Amount: 120000,
				Currency: "eur", Status: reconcile.LedgerPending, CreatedAt: at}
			if i < 3 {
				r.CreatedAt = time.Time{}
			}
			rows = append(rows, r)
		}
		if err := w.db.InsertLedgerRefunds(context.Background(), rows); err != nil {
			t.Fatal(err)
		}
		// A row without timestamps belongs to every window.
		w.env["LEDGER_QUERY"] = `SELECT * FROM ledger_refunds
WHERE (completed_at >= :since AND completed_at <= :until) OR (created_at >= :since AND created_at <= :until)
	OR (completed_at IS NULL AND created_at IS NULL)`
		out, _ := w.check(exitOK)
		for _, line := range []string{
			"ledger check: 20 rows from ",
			"rows without timestamps: 3\n",
			"invalid rows:  3\n",
			"       3  created_at is null (e.g. lr_000)\n",
			"verdict: looks right: 20 rows, 3 invalid (a run reports each as invalid_ledger_row)\n",
		} {
			if !strings.Contains(out, line) {
				t.Errorf("output lacks %q:\n%s", line, out)
			}
		}
	})
}
