package reconcile

import (
	"slices"
	"testing"
)

// Every kind has its full description, and the kinds that page by default
// are the ones where the customer did not get the money or got it twice.
func TestKindInfoComplete(t *testing.T) {
	for _, k := range Kinds {
		info := k.Info()
		if info.Label == "" || info.Meaning == "" || info.NextStep == "" || info.Outcome == "" || info.Severity == "" || info.Rank > len(Kinds) {
			t.Errorf("%s: incomplete description %+v", k, info)
		}
	}
	want := []Kind{GatewayFailed, MissingAtGateway, DuplicateAtGateway}
	if got := DefaultPageKinds(); !slices.Equal(got, want) {
		t.Errorf("DefaultPageKinds() = %v, want %v", got, want)
	}
}

func TestPaging(t *testing.T) {
	amt := func(v int64) *int64 { return &v }
	failed := Discrepancy{Kind: GatewayFailed, Currency: "usd", LedgerAmount: amt(3000)}
	failedJPY := Discrepancy{Kind: GatewayFailed, Currency: "jpy", LedgerAmount: amt(3000)}
	orphan := Discrepancy{Kind: MissingInLedger, Currency: "usd", GatewayAmount: amt(3000)}
	for _, tt := range []struct {
		name   string
		paging Paging
		d      Discrepancy
		want   bool
	}{
		{"zero value pages the default kinds", Paging{}, failed, true},
		{"zero value notifies the others", Paging{}, orphan, false},
		{"none pages nothing", Paging{PageKinds: []Kind{}}, failed, false},
		{"a configured kind pages", Paging{PageKinds: []Kind{MissingInLedger}}, orphan, true},
		{"a kind not configured notifies", Paging{PageKinds: []Kind{MissingInLedger}}, failed, false},
		{"at the floor pages", Paging{PageMinAmount: map[string]int64{"usd": 3000}}, failed, true},
		{"below the floor notifies", Paging{PageMinAmount: map[string]int64{"usd": 3001}}, failed, false},
		{"the catch-all floor applies to other currencies", Paging{PageMinAmount: map[string]int64{"usd": 1, "": 5000}}, failedJPY, false},
		{"a currency's own floor wins", Paging{PageMinAmount: map[string]int64{"jpy": 100, "": 5000}}, failedJPY, true},
	} {
		if got := tt.paging.Pages(tt.d); got != tt.want {
			t.Errorf("%s: Pages = %v, want %v", tt.name, got, tt.want)
		}
	}
}
