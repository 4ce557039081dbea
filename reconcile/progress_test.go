package reconcile

import (
	"context"
	"fmt"
	"testing"
)

// TestRunReportsProgress: a window run tells Progress each phase in order,
// and each gateway refund as it is read.
func TestRunReportsProgress(t *testing.T) {
	ledger := &memLedger{rows: []LedgerRefund{
		{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1", Amount: 100, Currency: "usd",
			Status: LedgerComplete, CreatedAt: ago(3 * day24), CompletedAt: ago(3 * day24)},
	}}
	gateway := &memGateway{refunds: []GatewayRefund{
		{ID: "re_1", ChargeID: "ch_1", CustomerID: "cus_1", Amount: 100, Currency: "usd", Status: RefundSucceeded, Created: ago(3 * day24)},
		{ID: "re_2", ChargeID: "ch_2", CustomerID: "cus_2", Amount: 100, Currency: "usd", Status: RefundSucceeded, Created: ago(2 * day24)},
	}}
	r := newRunner(ledger, gateway, newMemStore())
	var got []Progress
	r.Progress = func(p Progress) { got = append(got, p) }
	if _, err := r.Run(context.Background(), window); err != nil {
		t.Fatal(err)
	}
	want := []Progress{
		{Phase: PhaseLedger},
		{Phase: PhaseGateway, LedgerRefunds: 1},
		{Phase: PhaseGateway, LedgerRefunds: 1, GatewayRefunds: 1},
		{Phase: PhaseGateway, LedgerRefunds: 1, GatewayRefunds: 2},
		{Phase: PhaseCheck, LedgerRefunds: 1, GatewayRefunds: 2},
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("progress\n got %v\nwant %v", got, want)
	}
}
