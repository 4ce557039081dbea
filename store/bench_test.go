package store_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// BenchmarkFinishRun records a run that finds 10,000 discrepancies: new in
// the first iteration, known after.
func BenchmarkFinishRun(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			ctx := context.Background()
			found := manyDiscrepancies(10000)
			i := 0
			for b.Loop() {
				i++
				run := reconcile.Run{ID: fmt.Sprintf("run_%d", i), StartedAt: ts(0), FinishedAt: ts(time.Duration(i) * time.Second)}
				if _, err := db.FinishRun(ctx, run, found, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkLedgerRefunds streams 10,000 ledger rows through the default
// query.
func BenchmarkLedgerRefunds(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			ctx := context.Background()
			rows := make([]reconcile.LedgerRefund, 10000)
			for i := range rows {
				rows[i] = refund(fmt.Sprintf("r%05d", i), "cus_1", ts(time.Duration(i)*time.Second))
			}
			if err := db.InsertLedgerRefunds(ctx, rows); err != nil {
				b.Fatal(err)
			}
			l := store.NewLedger(db, "")
			for b.Loop() {
				n := 0
				err := l.Refunds(ctx, reconcile.LedgerQuery{Until: ts(24 * time.Hour)}, func(reconcile.LedgerRefund) error {
					n++
					return nil
				})
				if err != nil || n != len(rows) {
					b.Fatalf("read %d rows, %v", n, err)
				}
			}
		})
	}
}

// BenchmarkPage reads the review page's last page of 20,000 cases, filtered
// by status and a minimum amount, as the finance page does.
func BenchmarkPage(b *testing.B) {
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			db := be.open(b)
			ctx := context.Background()
			run := reconcile.Run{ID: "run_page", StartedAt: ts(0), FinishedAt: ts(time.Second)}
			if _, err := db.FinishRun(ctx, run, manyDiscrepancies(20000), nil); err != nil {
				b.Fatal(err)
			}
			for _, c := range []struct {
				name string
				q    store.PageQuery
			}{
				{"first", store.PageQuery{Statuses: []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged}, Limit: 50}},
				{"last-min-amount", store.PageQuery{Statuses: []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged},
					MinAmount: map[string]int64{"usd": 100, "eur": 100}, Limit: 50, Offset: 19950}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						page, total, err := db.Page(ctx, c.q)
						if err != nil || total == 0 || len(page) == 0 {
							b.Fatalf("page: %d of %d, %v", len(page), total, err)
						}
					}
				})
			}
		})
	}
}
