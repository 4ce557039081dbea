package reconcile

import (
	"fmt"
	"testing"
	"time"
)

// benchData makes n ledger refunds and their n gateway refunds: most match
// by recorded id, a tenth through metadata only, a tenth by charge and
// amount, and one in a hundred disagrees.
func benchData(n int) ([]LedgerRefund, []GatewayRefund) {
	ledger := make([]LedgerRefund, n)
	gateway := make([]GatewayRefund, n)
	base := now.Add(-60 * day24)
	for i := range n {
		at := base.Add(time.Duration(i) * time.Second)
		l := LedgerRefund{
			ID: fmt.Sprintf("lr_%09d", i), CustomerID: fmt.Sprintf("cus_%06d", i%50000),
			ChargeID: fmt.Sprintf("ch_%09d", i), GatewayRefundID: fmt.Sprintf("re_%09d", i),
			Amount: int64(1000 + i%5000), Currency: "usd", Status: LedgerComplete, CreatedAt: at, CompletedAt: at,
		}
		g := GatewayRefund{
			ID: l.GatewayRefundID, ChargeID: l.ChargeID, CustomerID: l.CustomerID, Amount: l.Amount,
			Currency: "usd", Status: RefundSucceeded, Created: at, LedgerRefundID: l.ID,
		}
		switch i % 10 {
		case 1:
			l.GatewayRefundID = "" // lost: found through metadata
		case 2:
			l.GatewayRefundID, g.LedgerRefundID = "", "" // found by charge and amount
		}
		if i%100 == 7 {
			g.Status = RefundFailed
		}
		ledger[i], gateway[i] = l, g
	}
	return ledger, gateway
}

// BenchmarkMatchClassify measures the matcher and classifier together, in
// refund pairs a second on one core.
func BenchmarkMatchClassify(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		ledger, gateway := benchData(n)
		// A run builds its tables as it reads; the matching and judging are
		// what is timed.
		lt, gt := newTables(ledger, gateway)
		b.Run(fmt.Sprint(n), func(b *testing.B) {
			b.ReportAllocs()
			found := 0
			for b.Loop() {
				m := matchTables(lt, gt, nil)
				found = 0
				for i := range ledger {
					if _, ok := rules.ClassifyLedger(&ledger[i], gateway, m.of(i), now); ok {
						found++
					}
				}
			}
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
			if found != n/100 {
				b.Fatalf("found %d discrepancies, want %d", found, n/100)
			}
		})
	}
}

// BenchmarkMatch measures the matcher alone, over tables built once.
func BenchmarkMatch(b *testing.B) {
	ledger, gateway := benchData(100_000)
	lt, gt := newTables(ledger, gateway)
	b.ReportAllocs()
	for b.Loop() {
		matchTables(lt, gt, nil)
	}
	b.ReportMetric(float64(len(ledger))*float64(b.N)/b.Elapsed().Seconds(), "pairs/s")
}
