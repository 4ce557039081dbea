package store_test

import (
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// TestLedgerInspect: Inspect reads the window's rows as Refunds does and
// reports each column's database type, on PostgreSQL and SQLite.
func TestLedgerInspect(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			db := b.open(t)
			in := ts(-2 * time.Hour)
			rows := []reconcile.LedgerRefund{
				{ID: "lr_in", CustomerID: "cus_1", Amount: 4500, Currency: "usd", Status: reconcile.LedgerPending, CreatedAt: in},
				{ID: "lr_out", CustomerID: "cus_1", Amount: 4500, Currency: "usd", Status: reconcile.LedgerPending, CreatedAt: ts(-90 * 24 * time.Hour)},
			}
			if err := db.InsertLedgerRefunds(ctx, rows); err != nil {
				t.Fatal(err)
			}
			since, until := ts(-24*time.Hour), ts(0)
			var got []string
			types, err := store.NewLedger(db, "").Inspect(ctx, since, until, func(r reconcile.LedgerRefund) error {
				got = append(got, r.ID)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, []string{"lr_in"}) {
				t.Errorf("rows %q, want lr_in only", got)
			}
			wantInt := map[string]string{store.DialectPostgres: "INT8", store.DialectSQLite: "INTEGER"}[b.name]
			if types["amount"] != wantInt || len(types) != 10 {
				t.Errorf("types %v, want amount %s among 10 columns", types, wantInt)
			}

			// A decimal amount column says so, upper case, names in lower case.
			q := "SELECT id, customer_id, charge_id, payment_intent_id, gateway_refund_id, CAST(amount AS numeric) AS Amount," +
				" currency, status, completed_at, created_at FROM ledger_refunds"
			if b.name == store.DialectSQLite {
				// SQLite reports the declared type of a table column only.
				q = "SELECT * FROM num_ledger"
				if _, err := db.SQLX().ExecContext(ctx, `CREATE TABLE num_ledger (id text, customer_id text, charge_id text,
					payment_intent_id text, gateway_refund_id text, Amount decimal(12,2), currency text, status text,
					completed_at text, created_at text)`); err != nil {
					t.Fatal(err)
				}
			}
			types, err = store.NewLedger(db, q).Inspect(ctx, since, until, func(reconcile.LedgerRefund) error { return nil })
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(types["amount"], "NUMERIC") && !strings.HasPrefix(types["amount"], "DECIMAL") {
				t.Errorf("amount type %q, want a decimal type", types["amount"])
			}

			// fn's error stops the reading and comes back as it is;
			// a missing column is a configuration error.
			stop := errors.New("stop")
			if _, err := store.NewLedger(db, "").Inspect(ctx, since, until, func(reconcile.LedgerRefund) error { return stop }); err != stop {
				t.Errorf("fn error: got %v", err)
			}
			if _, err := store.NewLedger(db, "SELECT id FROM ledger_refunds").Inspect(ctx, since, until,
				func(reconcile.LedgerRefund) error { return nil }); !errors.Is(err, reconcile.ErrConfig) {
				t.Errorf("missing columns: got %v, want ErrConfig", err)
			}
		})
	}
}
