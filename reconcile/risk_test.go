package reconcile

import "testing"

func TestAtRisk(t *testing.T) {
	n := func(v int64) *int64 { return &v }
	tests := []struct {
		d      Discrepancy
		amount int64
		cur    string
	}{
		{Discrepancy{Kind: GatewayFailed, Currency: "USD", LedgerAmount: n(4500), GatewayAmount: n(4500)}, 4500, "usd"},
		{Discrepancy{Kind: MissingAtGateway, Currency: "jpy", LedgerAmount: n(1200)}, 1200, "jpy"},
		{Discrepancy{Kind: CurrencyMismatch, Currency: "usd", GatewayCurrency: "eur", LedgerAmount: n(999), GatewayAmount: n(999)}, 999, "usd"},
		{Discrepancy{Kind: AmountMismatch, Currency: "kwd", LedgerAmount: n(10500), GatewayAmount: n(10000)}, 500, "kwd"},
		{Discrepancy{Kind: AmountMismatch, Currency: "usd", LedgerAmount: n(4000), GatewayAmount: n(4500)}, 500, "usd"},
		{Discrepancy{Kind: MissingInLedger, Currency: "usd", GatewayCurrency: "usd", GatewayAmount: n(250000)}, 250000, "usd"},
		{Discrepancy{Kind: DuplicateAtGateway, Currency: "eur", GatewayCurrency: "eur", LedgerAmount: n(700), GatewayAmount: n(700)}, 700, "eur"},
		{Discrepancy{Kind: InvalidLedgerRow, Currency: "usd", LedgerAmount: n(-100), GatewayAmount: n(100)}, 100, "usd"},
		{Discrepancy{Kind: InvalidLedgerRow, Currency: "usd", LedgerAmount: n(300)}, 300, "usd"},
	}
	for _, tt := range tests {
		a, c := AtRisk(tt.d)
		if a != tt.amount || c != tt.cur {
			t.Errorf("%s: %d %s, want %d %s", tt.d.Kind, a, c, tt.amount, tt.cur)
		}
	}
}
