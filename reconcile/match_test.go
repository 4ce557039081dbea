package reconcile

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// pairs renders a matching as ledger id -> gateway ids for comparison.
func pairs(ledger []LedgerRefund, gateway []GatewayRefund, m Matching) map[string][]string {
	out := map[string][]string{}
	for i, js := range m.ByLedger {
		for _, j := range js {
			out[ledger[i].ID] = append(out[ledger[i].ID], gateway[j].ID)
		}
		slices.Sort(out[ledger[i].ID])
	}
	return out
}

func TestMatch(t *testing.T) {
	base := ago(30 * day24)
	at := func(h int) time.Time { return base.Add(time.Duration(h) * time.Hour) }
	l := func(id, ch string, amount int64, created time.Time, gw string) LedgerRefund {
		return LedgerRefund{ID: id, CustomerID: "cus_1", ChargeID: ch, GatewayRefundID: gw, Amount: amount, Currency: "USD",
			Status: LedgerComplete, CreatedAt: created, CompletedAt: created}
	}
	g := func(id, ch string, amount int64, created time.Time, meta string) GatewayRefund {
		return GatewayRefund{ID: id, ChargeID: ch, Amount: amount, Currency: "usd", Status: RefundSucceeded, Created: created, LedgerRefundID: meta}
	}
	tests := []struct {
		name    string
		ledger  []LedgerRefund
		gateway []GatewayRefund
		want    map[string][]string
		free    []string // gateway refunds left unmatched
	}{
		{
			name:    "recorded id",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "re_1")},
			gateway: []GatewayRefund{g("re_1", "ch_other", 999, at(50), "")},
			want:    map[string][]string{"lr_1": {"re_1"}},
		},
		{
			name:    "lost gateway id found through metadata",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "")},
			gateway: []GatewayRefund{g("re_1", "ch_1", 100, at(0), "lr_1")},
			want:    map[string][]string{"lr_1": {"re_1"}},
		},
		{
			name:    "id and metadata together, a failed attempt and its retry",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "re_2")},
			gateway: []GatewayRefund{g("re_1", "ch_1", 100, at(0), "lr_1"), g("re_2", "ch_1", 100, at(1), "lr_1")},
			want:    map[string][]string{"lr_1": {"re_1", "re_2"}},
		},
		{
			name: "partial refunds of one charge matched by amount",
			ledger: []LedgerRefund{
				l("lr_a", "ch_1", 1000, at(0), ""), l("lr_b", "ch_1", 2500, at(1), ""), l("lr_c", "ch_1", 500, at(2), ""),
			},
			gateway: []GatewayRefund{
				g("re_c", "ch_1", 500, at(2), ""), g("re_a", "ch_1", 1000, at(0), ""), g("re_b", "ch_1", 2500, at(1), ""),
			},
			want: map[string][]string{"lr_a": {"re_a"}, "lr_b": {"re_b"}, "lr_c": {"re_c"}},
		},
		{
			name:    "equal refunds paired nearest in time, one to one",
			ledger:  []LedgerRefund{l("lr_late", "ch_1", 100, at(100), ""), l("lr_early", "ch_1", 100, at(0), "")},
			gateway: []GatewayRefund{g("re_early", "ch_1", 100, at(1), ""), g("re_late", "ch_1", 100, at(99), "")},
			want:    map[string][]string{"lr_early": {"re_early"}, "lr_late": {"re_late"}},
		},
		{
			name:    "second equal refund with no ledger row of its own stays unmatched",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "")},
			gateway: []GatewayRefund{g("re_1", "ch_1", 100, at(0), ""), g("re_2", "ch_1", 100, at(5), "")},
			want:    map[string][]string{"lr_1": {"re_1"}},
			free:    []string{"re_2"},
		},
		{
			name:    "step 3 only when 1 and 2 find nothing",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "re_1")},
			gateway: []GatewayRefund{g("re_1", "ch_1", 100, at(0), ""), g("re_2", "ch_1", 100, at(0), "")},
			want:    map[string][]string{"lr_1": {"re_1"}},
			free:    []string{"re_2"},
		},
		{
			name:    "a refund taken by id is not reused by step 3",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "re_1"), l("lr_2", "ch_1", 100, at(0), "")},
			gateway: []GatewayRefund{g("re_1", "ch_1", 100, at(0), "")},
			want:    map[string][]string{"lr_1": {"re_1"}},
		},
		{
			name:    "different amount or currency does not pair",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "")},
			gateway: []GatewayRefund{g("re_1", "ch_1", 101, at(0), ""), func() GatewayRefund { x := g("re_2", "ch_1", 100, at(0), ""); x.Currency = "eur"; return x }()},
			want:    map[string][]string{},
			free:    []string{"re_1", "re_2"},
		},
		{
			name: "payment intent when the ledger has no charge",
			ledger: []LedgerRefund{func() LedgerRefund {
				x := l("lr_1", "", 100, at(0), "")
				x.PaymentIntentID = "pi_1"
				return x
			}()},
			gateway: []GatewayRefund{func() GatewayRefund { x := g("re_1", "ch_1", 100, at(0), ""); x.PaymentIntentID = "pi_1"; return x }()},
			want:    map[string][]string{"lr_1": {"re_1"}},
		},
		{
			name:    "two ledger rows recording one refund both match it",
			ledger:  []LedgerRefund{l("lr_1", "ch_1", 100, at(0), "re_1"), l("lr_2", "ch_1", 100, at(0), "re_1")},
			gateway: []GatewayRefund{g("re_1", "ch_1", 100, at(0), "")},
			want:    map[string][]string{"lr_1": {"re_1"}, "lr_2": {"re_1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := Match(tt.ledger, tt.gateway)
			got := pairs(tt.ledger, tt.gateway, m)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Fatalf("got %v, want %v", got, tt.want)
			}
			var free []string
			for j, ok := range m.Matched {
				if !ok {
					free = append(free, tt.gateway[j].ID)
				}
			}
			slices.Sort(free)
			if !slices.Equal(free, tt.free) {
				t.Fatalf("unmatched %v, want %v", free, tt.free)
			}
		})
	}
}

// The shared backing array must not let one row's matches bleed into the
// next row's.
func TestMatchRowsIndependent(t *testing.T) {
	var ledger []LedgerRefund
	var gateway []GatewayRefund
	for i := range 50 {
		id := fmt.Sprintf("lr_%d", i)
		ledger = append(ledger, LedgerRefund{ID: id, GatewayRefundID: fmt.Sprintf("re_%d", i)})
		gateway = append(gateway, GatewayRefund{ID: fmt.Sprintf("re_%d", i)})
		if i%3 == 0 { // a retry named by metadata
			gateway = append(gateway, GatewayRefund{ID: fmt.Sprintf("re_%d_retry", i), LedgerRefundID: id})
		}
	}
	m := Match(ledger, gateway)
	for i, js := range m.ByLedger {
		want := 1
		if i%3 == 0 {
			want = 2
		}
		if len(js) != want {
			t.Fatalf("ledger %d has %d matches, want %d", i, len(js), want)
		}
		for _, j := range js {
			if gateway[j].ID != ledger[i].GatewayRefundID && gateway[j].LedgerRefundID != ledger[i].ID {
				t.Fatalf("ledger %d matched foreign %s", i, gateway[j].ID)
			}
		}
	}
}
