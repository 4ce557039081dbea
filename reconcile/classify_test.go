package reconcile

import (
	"slices"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func ago(d time.Duration) time.Time { return now.Add(-d) }

const day24 = 24 * time.Hour

// ledgerRow is a valid complete ledger refund, changed by the options.
func ledgerRow(opts ...func(*LedgerRefund)) LedgerRefund {
	l := LedgerRefund{
		ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1",
		Amount: 4500, Currency: "USD", Status: LedgerComplete,
		CompletedAt: ago(10 * day24), CreatedAt: ago(10*day24 + time.Hour),
	}
	for _, o := range opts {
		o(&l)
	}
	return l
}

func gatewayRow(id string, opts ...func(*GatewayRefund)) GatewayRefund {
	g := GatewayRefund{
		ID: id, ChargeID: "ch_1", CustomerID: "cus_1", Amount: 4500, Currency: "usd",
		Status: RefundSucceeded, Created: ago(10*day24 + 30*time.Minute), LedgerRefundID: "lr_1",
	}
	for _, o := range opts {
		o(&g)
	}
	return g
}

func status(s GatewayStatus) func(*GatewayRefund) { return func(g *GatewayRefund) { g.Status = s } }

var rules = Rules{Grace: DefaultGrace, PendingAfter: DefaultPendingAfter,
	ValidCurrency: func(c string) bool { return slices.Contains([]string{"USD", "EUR", "JPY", "KWD"}, strings.ToUpper(c)) }}

func TestClassifyLedger(t *testing.T) {
	tests := []struct {
		name    string
		ledger  LedgerRefund
		gateway []GatewayRefund
		want    Kind   // "" = no discrepancy
		also    []Kind // kinds that must be named in the detail
	}{
		{name: "matched and equal", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1")}},
		{name: "missing at gateway", ledger: ledgerRow(), want: MissingAtGateway},
		{name: "missing at gateway but completed inside grace",
			ledger: ledgerRow(func(l *LedgerRefund) { l.CompletedAt = ago(time.Minute) })},
		{name: "ledger pending and nothing at gateway", ledger: ledgerRow(func(l *LedgerRefund) { l.Status = LedgerPending; l.CompletedAt = time.Time{} })},
		{name: "gateway failed", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1", status(RefundFailed))}, want: GatewayFailed},
		{name: "gateway canceled", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1", status(RefundCanceled))}, want: GatewayCanceled},
		{name: "failed attempt next to succeeded retry is fine", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1", status(RefundFailed)), gatewayRow("re_2")}},
		{name: "canceled attempt next to failed one is judged failed", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1", status(RefundCanceled)), gatewayRow("re_2", status(RefundFailed))}, want: GatewayFailed},
		{name: "duplicate: two succeeded", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1"), gatewayRow("re_2")}, want: DuplicateAtGateway},
		{name: "duplicate: succeeded and pending", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1"), gatewayRow("re_2", status(RefundPending))}, want: DuplicateAtGateway},
		{name: "duplicate outranks amount mismatch", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1"), gatewayRow("re_2", func(g *GatewayRefund) { g.Amount = 100; g.Created = ago(day24) })},
			want:    DuplicateAtGateway, also: []Kind{AmountMismatch}},
		{name: "pending too long", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1", status(RefundPending))}, want: GatewayPendingTooLong},
		{name: "requires_action counts as pending", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1", status(RefundRequiresAction))}, want: GatewayPendingTooLong},
		{name: "pending, not yet too long", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1", status(RefundPending), func(g *GatewayRefund) { g.Created = ago(119 * time.Hour) })}},
		{name: "currency mismatch outranks amount mismatch", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1", func(g *GatewayRefund) { g.Currency = "eur"; g.Amount = 4000 })},
			want:    CurrencyMismatch, also: []Kind{AmountMismatch}},
		{name: "currency compared in lower case", ledger: ledgerRow(func(l *LedgerRefund) { l.Currency = "usd" }), gateway: []GatewayRefund{gatewayRow("re_1")}},
		{name: "amount mismatch", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1", func(g *GatewayRefund) { g.Amount = 4400 })}, want: AmountMismatch},
		{name: "amount mismatch outranks customer mismatch", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1", func(g *GatewayRefund) { g.Amount = 4400; g.CustomerID = "cus_2" })},
			want:    AmountMismatch, also: []Kind{CustomerMismatch}},
		{name: "customer mismatch", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1", func(g *GatewayRefund) { g.CustomerID = "cus_2" })}, want: CustomerMismatch},
		{name: "charge without customer is no mismatch", ledger: ledgerRow(), gateway: []GatewayRefund{gatewayRow("re_1", func(g *GatewayRefund) { g.CustomerID = "" })}},
		{name: "ledger pending, gateway succeeded", ledger: ledgerRow(func(l *LedgerRefund) { l.Status = LedgerPending; l.CompletedAt = time.Time{} }),
			gateway: []GatewayRefund{gatewayRow("re_1")}, want: LedgerNotComplete},
		{name: "ledger failed, gateway succeeded", ledger: ledgerRow(func(l *LedgerRefund) { l.Status = LedgerFailed; l.CompletedAt = time.Time{} }),
			gateway: []GatewayRefund{gatewayRow("re_1")}, want: LedgerNotComplete},
		{name: "ledger pending inside grace", ledger: ledgerRow(func(l *LedgerRefund) {
			l.Status = LedgerPending
			l.CompletedAt = time.Time{}
			l.CreatedAt = ago(5 * time.Minute)
		}), gateway: []GatewayRefund{gatewayRow("re_1")}},
		{name: "ledger failed, gateway failed", ledger: ledgerRow(func(l *LedgerRefund) { l.Status = LedgerFailed; l.CompletedAt = time.Time{} }),
			gateway: []GatewayRefund{gatewayRow("re_1", status(RefundFailed))}},
		{name: "gateway failed outranks currency and customer", ledger: ledgerRow(),
			gateway: []GatewayRefund{gatewayRow("re_1", status(RefundFailed), func(g *GatewayRefund) { g.Currency = "eur"; g.CustomerID = "cus_9" })},
			want:    GatewayFailed, also: []Kind{CurrencyMismatch, CustomerMismatch}},
		{name: "invalid row wins over everything", ledger: ledgerRow(func(l *LedgerRefund) { l.Amount = -5 }),
			gateway: []GatewayRefund{gatewayRow("re_1", status(RefundFailed))}, want: InvalidLedgerRow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			matched := make([]int32, len(tt.gateway))
			for i := range matched {
				matched[i] = int32(i)
			}
			d, ok := rules.ClassifyLedger(&tt.ledger, tt.gateway, matched, now)
			if tt.want == "" {
				if ok {
					t.Fatalf("got %s (%s), want no discrepancy", d.Kind, d.Detail)
				}
				return
			}
			if !ok || d.Kind != tt.want {
				t.Fatalf("got %q ok=%v (%s), want %s", d.Kind, ok, d.Detail, tt.want)
			}
			for _, k := range tt.also {
				if !strings.Contains(d.Detail, string(k)) {
					t.Errorf("detail %q does not name %s", d.Detail, k)
				}
			}
			if d.ID != DiscrepancyID(d.Fingerprint()) || !strings.HasPrefix(d.ID, "dsc_") {
				t.Errorf("id %q not derived from fingerprint", d.ID)
			}
			if len(d.GatewayRefundIDs) != len(tt.gateway) {
				t.Errorf("gateway ids %v, want all %d matched", d.GatewayRefundIDs, len(tt.gateway))
			}
			if d.Detail == "" || strings.Contains(d.Detail, "%!") {
				t.Errorf("bad detail %q", d.Detail)
			}
		})
	}
}

func TestInvalidLedgerRows(t *testing.T) {
	tests := []struct {
		name    string
		change  func(*LedgerRefund)
		problem string
	}{
		{"empty id", func(l *LedgerRefund) { l.ID = "" }, "id is empty"},
		{"blank customer", func(l *LedgerRefund) { l.CustomerID = "  " }, "customer_id is empty"},
		{"zero amount", func(l *LedgerRefund) { l.Amount = 0 }, "amount is not positive"},
		{"negative amount", func(l *LedgerRefund) { l.Amount = -100 }, "amount is not positive"},
		{"null amount", func(l *LedgerRefund) { l.AmountNull = true; l.Amount = 0 }, "amount is null"},
		{"unknown currency", func(l *LedgerRefund) { l.Currency = "XYZ" }, `currency "XYZ" is not an ISO 4217 code`},
		{"symbol not code", func(l *LedgerRefund) { l.Currency = "$" }, "is not an ISO 4217 code"},
		{"empty currency", func(l *LedgerRefund) { l.Currency = "" }, "currency is empty"},
		{"unknown status", func(l *LedgerRefund) { l.Status = "done" }, `status "done" is not pending, complete or failed`},
		{"complete without completed_at", func(l *LedgerRefund) { l.CompletedAt = time.Time{} }, "completed_at is null"},
		{"no created_at", func(l *LedgerRefund) { l.CreatedAt = time.Time{} }, "created_at is null"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := ledgerRow(tt.change)
			d, ok := rules.ClassifyLedger(&l, nil, nil, now)
			if !ok || d.Kind != InvalidLedgerRow {
				t.Fatalf("got %q ok=%v, want invalid_ledger_row", d.Kind, ok)
			}
			if !strings.Contains(d.Detail, tt.problem) {
				t.Errorf("detail %q does not say %q", d.Detail, tt.problem)
			}
		})
	}
	t.Run("lower-case currency is valid", func(t *testing.T) {
		l := ledgerRow(func(l *LedgerRefund) { l.Currency = "jpy" })
		if p := l.Problems(rules.ValidCurrency); len(p) != 0 {
			t.Fatalf("problems %v", p)
		}
	})
	t.Run("two id-less rows are two cases", func(t *testing.T) {
		a := ledgerRow(func(l *LedgerRefund) { l.ID = "" })
		b := ledgerRow(func(l *LedgerRefund) { l.ID = ""; l.Amount = 7 })
		da, _ := rules.ClassifyLedger(&a, nil, nil, now)
		db, _ := rules.ClassifyLedger(&b, nil, nil, now)
		if da.ID == db.ID {
			t.Fatalf("same id %s for different rows", da.ID)
		}
	})
}

func TestClassifyGateway(t *testing.T) {
	tests := []struct {
		name string
		g    GatewayRefund
		want bool
	}{
		{"succeeded", gatewayRow("re_9"), true},
		{"pending", gatewayRow("re_9", status(RefundPending)), true},
		{"requires_action", gatewayRow("re_9", status(RefundRequiresAction)), true},
		{"failed", gatewayRow("re_9", status(RefundFailed)), false},
		{"canceled", gatewayRow("re_9", status(RefundCanceled)), false},
		{"inside grace", gatewayRow("re_9", func(g *GatewayRefund) { g.Created = ago(10 * time.Minute) }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, ok := rules.ClassifyGateway(&tt.g, now)
			if ok != tt.want {
				t.Fatalf("ok=%v want %v", ok, tt.want)
			}
			if ok && (d.Kind != MissingInLedger || d.LedgerAmount != nil || *d.GatewayAmount != 4500 || d.LedgerRefundID != "") {
				t.Fatalf("bad discrepancy %+v", d)
			}
		})
	}
}

func TestFingerprintStable(t *testing.T) {
	l := ledgerRow()
	g1 := []GatewayRefund{gatewayRow("re_1", status(RefundFailed))}
	g2 := []GatewayRefund{gatewayRow("re_1", status(RefundFailed), func(g *GatewayRefund) { g.FailureReason = "declined" })}
	a, _ := rules.ClassifyLedger(&l, g1, []int32{0}, now)
	b, _ := rules.ClassifyLedger(&l, g2, []int32{0}, now.Add(day24))
	if a.ID != b.ID {
		t.Fatalf("id changed with details: %s vs %s", a.ID, b.ID)
	}
	if a.Detail == b.Detail {
		t.Fatalf("detail should differ: %q", a.Detail)
	}
}
