package store_test

import (
	"errors"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// TestLedgerMissingTable: without the ledger table, the default ledger query
// fails with ErrNoLedgerTable (a configuration error, exit 2) on both
// databases; a custom query's missing table stays the database's error.
func TestLedgerMissingTable(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			ctx := ctxFor(t)
			db, err := store.Open(ctx, b.url(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			if err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			q := reconcile.LedgerQuery{Since: time.Now().Add(-time.Hour), Until: time.Now()}
			none := func(reconcile.LedgerRefund) error { return nil }
			err = store.NewLedger(db, "").Refunds(ctx, q, none)
			if !errors.Is(err, store.ErrNoLedgerTable) || !errors.Is(err, reconcile.ErrConfig) {
				t.Fatalf("default query without the table: %v, want ErrNoLedgerTable wrapping ErrConfig", err)
			}
			err = store.NewLedger(db, "SELECT * FROM my_refunds").Refunds(ctx, q, none)
			if err == nil || errors.Is(err, store.ErrNoLedgerTable) {
				t.Fatalf("custom query on a missing table: %v, want the database's error", err)
			}
			if err := db.MigrateLedger(ctx); err != nil {
				t.Fatal(err)
			}
			if err := store.NewLedger(db, "").Refunds(ctx, q, none); err != nil {
				t.Fatalf("after migrate --with-ledger: %v", err)
			}
		})
	}
}
