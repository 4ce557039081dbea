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
			unresolved := []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged}
			for _, c := range []struct {
				name string
				q    reconcile.CaseFilter
			}{
				{"first", reconcile.CaseFilter{Statuses: unresolved, Limit: 50}},
				{"search", reconcile.CaseFilter{Statuses: unresolved, Query: "lr_199", Limit: 50}},
				{"min-amount", reconcile.CaseFilter{Statuses: unresolved, MinAtRisk: map[string]int64{"usd": 100, "eur": 100}, Limit: 50}},
			} {
				b.Run(c.name, func(b *testing.B) {
					for b.Loop() {
						page, err := db.Cases(ctx, c.q)
						if err != nil || len(page.Cases) == 0 {
							b.Fatalf("page: %d, %v", len(page.Cases), err)
						}
						if _, err := db.Tally(ctx, c.q, time.Now()); err != nil {
							b.Fatal(err)
						}
					}
				})
			}
		})
	}
}
