package reconcile

import (
	"cmp"
	"math"
	"math/rand/v2"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// referenceMatch is Match as first written, with maps: the oracle the
// faster Match and the runner's compact matching are checked against.
func referenceMatch(ledger []LedgerRefund, gateway []GatewayRefund) Matching {
	m := Matching{
		ByLedger: make([][]int32, len(ledger)),
		Matched:  make([]bool, len(gateway)),
	}
	byID := make(map[string]int32, len(gateway))
	// byMeta holds the first gateway refund naming a ledger id; metaMore the
	// rest, which are rare (a failed attempt and its retry).
	byMeta := make(map[string]int32, len(gateway))
	var metaMore map[string][]int32
	for j := range gateway {
		g := &gateway[j]
		byID[g.ID] = int32(j)
		if g.LedgerRefundID == "" {
			continue
		}
		if _, dup := byMeta[g.LedgerRefundID]; dup {
			if metaMore == nil {
				metaMore = make(map[string][]int32)
			}
			metaMore[g.LedgerRefundID] = append(metaMore[g.LedgerRefundID], int32(j))
			continue
		}
		byMeta[g.LedgerRefundID] = int32(j)
	}

	// Matches of steps 1 and 2 share one backing array: one allocation
	// instead of one per ledger refund. A full slice expression keeps each
	// row's window from growing into the next.
	flat := make([]int32, 0, len(ledger))
	for i := range ledger {
		l := &ledger[i]
		start := len(flat)
		if l.GatewayRefundID != "" {
			if j, ok := byID[l.GatewayRefundID]; ok {
				flat = append(flat, j)
			}
		}
		if l.ID != "" {
			if j, ok := byMeta[l.ID]; ok {
				flat = appendNew(flat, start, j)
				for _, j := range metaMore[l.ID] {
					flat = appendNew(flat, start, j)
				}
			}
		}
		if len(flat) > start {
			row := flat[start:len(flat):len(flat)]
			if len(row) > 1 {
				slices.Sort(row)
			}
			m.ByLedger[i] = row
			for _, j := range row {
				m.Matched[j] = true
			}
		}
	}
	referenceMatchByCharge(ledger, gateway, &m)
	return m
}

// referenceMatchByCharge is step 3 as first written.
func referenceMatchByCharge(ledger []LedgerRefund, gateway []GatewayRefund, m *Matching) {
	var groups map[chargeKey][]int32
	var order []chargeKey
	for i := range ledger {
		l := &ledger[i]
		if len(m.ByLedger[i]) > 0 {
			continue
		}
		k := chargeKey{ref: l.ChargeID, amount: l.Amount, currency: l.currency()}
		if k.ref == "" {
			k = chargeKey{ref: l.PaymentIntentID, byIntent: true, amount: l.Amount, currency: k.currency}
		}
		if k.ref == "" {
			continue
		}
		if groups == nil {
			groups = make(map[chargeKey][]int32)
		}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], int32(i))
	}
	if len(order) == 0 {
		return
	}
	cands := make(map[chargeKey][]int32)
	for j := range gateway {
		if m.Matched[j] {
			continue
		}
		g := &gateway[j]
		if g.ChargeID != "" {
			k := chargeKey{ref: g.ChargeID, amount: g.Amount, currency: g.Currency}
			if _, ok := groups[k]; ok {
				cands[k] = append(cands[k], int32(j))
			}
		}
		if g.PaymentIntentID != "" {
			k := chargeKey{ref: g.PaymentIntentID, byIntent: true, amount: g.Amount, currency: g.Currency}
			if _, ok := groups[k]; ok {
				cands[k] = append(cands[k], int32(j))
			}
		}
	}
	type pair struct {
		l, g int32
		gap  time.Duration
	}
	var pairs []pair
	for _, k := range order {
		gs := cands[k]
		if len(gs) == 0 {
			continue
		}
		ls := groups[k]
		pairs = pairs[:0]
		for _, i := range ls {
			for _, j := range gs {
				if m.Matched[j] {
					continue // taken by another group (charge and intent keys)
				}
				pairs = append(pairs, pair{i, j, absDuration(gateway[j].Created.Sub(ledger[i].CreatedAt))})
			}
		}
		slices.SortFunc(pairs, func(a, b pair) int {
			return cmp.Or(
				cmp.Compare(a.gap, b.gap),
				cmp.Compare(a.l, b.l),
				cmp.Compare(gateway[a.g].ID, gateway[b.g].ID),
			)
		})
		for _, p := range pairs {
			if m.Matched[p.g] || len(m.ByLedger[p.l]) > 0 {
				continue
			}
			m.ByLedger[p.l] = []int32{p.g}
			m.Matched[p.g] = true
		}
	}
}

// randomSides makes ledger and gateway refunds drawn from small pools of
// ids, charges, amounts and times, so that every matching rule, duplicate
// and tie turns up.
func randomSides(r *rand.Rand, nl, ng int) ([]LedgerRefund, []GatewayRefund) {
	pick := func(prefix string, n int) string {
		k := r.IntN(n + 1)
		if k == 0 {
			return ""
		}
		return prefix + strconv.Itoa(k)
	}
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func() time.Time {
		if r.IntN(20) == 0 {
			return time.Time{}
		}
		return base.Add(time.Duration(r.IntN(6)) * time.Hour)
	}
	cur := func() string { return []string{"usd", "USD", "eur", ""}[r.IntN(4)] }
	ledger := make([]LedgerRefund, nl)
	for i := range ledger {
		ledger[i] = LedgerRefund{ID: pick("lr_", nl), CustomerID: "cus_1", ChargeID: pick("ch_", 4), PaymentIntentID: pick("pi_", 4),
			GatewayRefundID: pick("re_", ng), Amount: int64(r.IntN(3)), Currency: cur(), Status: LedgerComplete, CreatedAt: at()}
	}
	gateway := make([]GatewayRefund, ng)
	for j := range gateway {
		gateway[j] = GatewayRefund{ID: pick("re_", ng), ChargeID: pick("ch_", 4), PaymentIntentID: pick("pi_", 4),
			LedgerRefundID: pick("lr_", nl), Amount: int64(r.IntN(3)), Currency: strings.ToLower(cur()), Created: at()}
	}
	return ledger, gateway
}

func TestMatchAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 7))
	for round := range 3000 {
		ledger, gateway := randomSides(r, r.IntN(12), r.IntN(12))
		got, want := Match(ledger, gateway), referenceMatch(ledger, gateway)
		if !reflect.DeepEqual(normal(got), normal(want)) {
			t.Fatalf("round %d:\nledger  %+v\ngateway %+v\nMatch     %v\nreference %v", round, ledger, gateway, got, want)
		}
	}
}

// normal makes empty rows nil, so that DeepEqual compares matches only.
func normal(m Matching) Matching {
	for i, row := range m.ByLedger {
		if len(row) == 0 {
			m.ByLedger[i] = nil
		}
	}
	return m
}

func TestMatchTablesAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 8))
	for round := range 3000 {
		ledger, gateway := randomSides(r, r.IntN(12), r.IntN(12))
		want := normal(referenceMatch(ledger, gateway))
		lt, gt := newTables(ledger, gateway)
		m := matchTables(lt, gt, nil)
		got := Matching{ByLedger: make([][]int32, len(ledger)), Matched: m.Matched}
		for i := range ledger {
			if row := m.of(i); len(row) > 0 {
				got.ByLedger[i] = row
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d:\nledger  %+v\ngateway %+v\nmatchTables %v\nreference   %v", round, ledger, gateway, got, want)
		}
	}
}

func TestTablesReadBackWhatWasAdded(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	ledger, gateway := randomSides(r, 300, 300)
	odd := []time.Time{
		time.Date(2024, 1, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600)),
		time.Now(), // a monotonic reading
		time.Date(1, 1, 1, 0, 0, 1, 0, time.UTC),
		time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Unix(0, math.MinInt64).UTC(),
		time.Unix(0, math.MinInt64+1).UTC(),
		time.Time{}.In(time.FixedZone("X", 0)),
	}
	for k, at := range odd {
		ledger[k].CompletedAt = at
		gateway[k].FailedAt = at
		gateway[len(odd)+k].Created = at
	}
	ledger[20].ID = strings.Repeat("x", bigString+1)
	ledger[21].CustomerID = "é\x00\xff"
	ledger[22].AmountNull = true
	gateway[30].FailureReason = "declined"
	lt, gt := newTables(ledger, gateway)
	for i, want := range ledger {
		if got := lt.at(i); got != want {
			t.Fatalf("ledger row %d reads back as\n%+v\nnot\n%+v", i, got, want)
		}
	}
	for j, want := range gateway {
		if got := gt.at(j); got != want {
			t.Fatalf("gateway refund %d reads back as\n%+v\nnot\n%+v", j, got, want)
		}
	}
	// FailedAt changes in place, into and out of the exotic map.
	for _, at := range append(odd, time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)) {
		gt.setFailedAt(40, at)
		want := gateway[40]
		want.FailedAt = at
		if got := gt.at(40); got != want {
			t.Fatalf("after setFailedAt(%v): %+v", at, got)
		}
	}
	if _, ok := gt.strs.lookup("never added"); ok {
		t.Error("lookup finds a string never added")
	}
	if id, ok := gt.strs.lookup(gateway[50].ID); !ok || gt.strs.str(id) != gateway[50].ID {
		t.Errorf("lookup(%q) = %d, %v", gateway[50].ID, id, ok)
	}
}

func TestStrTableManyStrings(t *testing.T) {
	strs := newStrTable()
	ids := map[string]strID{}
	for i := range 300_000 { // several chunks and table growths
		s := strconv.Itoa(i*7919) + strings.Repeat("y", i%40)
		id := strs.intern(s)
		if prev, ok := ids[s]; ok && prev != id {
			t.Fatalf("%q interned as %d and %d", s, prev, id)
		}
		ids[s] = id
	}
	for s, id := range ids {
		if got := strs.str(id); got != s {
			t.Fatalf("id %d reads %q, want %q", id, got, s)
		}
		if again := strs.intern(s); again != id {
			t.Fatalf("%q interned again as %d, was %d", s, again, id)
		}
	}
	if len(strs.chunks) < 2 {
		t.Errorf("%d chunks: the test does not cross a chunk", len(strs.chunks))
	}
}

func TestRowValidIsValid(t *testing.T) {
	r := rand.New(rand.NewPCG(10, 10))
	texts := []string{"", " ", "\u00a0", "\t x", "x", "cus_1", " lr_1 ", "\u2003", "é"}
	for range 5000 {
		l := LedgerRefund{
			ID: texts[r.IntN(len(texts))], CustomerID: texts[r.IntN(len(texts))], Amount: int64(r.IntN(3) - 1),
			AmountNull: r.IntN(5) == 0, Currency: []string{"usd", "USD", "xbt", "us", "", "u$d"}[r.IntN(6)],
			Status: []LedgerStatus{LedgerComplete, LedgerPending, LedgerFailed, "done"}[r.IntN(4)],
		}
		if r.IntN(2) == 0 {
			l.CompletedAt = time.Unix(1, 0)
		}
		if r.IntN(4) != 0 {
			l.CreatedAt = time.Unix(1, 0)
		}
		memo := memoCurrency(rules.ValidCurrency)
		if got, want := rowValid(&l, memo), l.valid(rules.ValidCurrency); got != want {
			t.Fatalf("rowValid(%+v) = %v, valid says %v", l, got, want)
		}
	}
	memo := memoCurrency(rules.ValidCurrency)
	for range 1000 {
		code := []string{"usd", "USD", "eur", "EUR", "jpy", "kwd", "gbp", "xbt", "chf", "sek", "nok"}[r.IntN(11)]
		if memo(code) != rules.ValidCurrency(code) {
			t.Fatalf("memoCurrency(%q) disagrees", code)
		}
	}
	if memoCurrency(nil) != nil {
		t.Error("memoCurrency(nil) is not nil")
	}
}

// The run matches with the index it keeps of its gateway refunds.
func TestRunSidesMatchAgreesWithReference(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 11))
	for round := range 2000 {
		ledger, gateway := randomSides(r, r.IntN(12), r.IntN(12))
		s := newSides(Scope{})
		for _, l := range ledger {
			s.addLedger(l, false)
		}
		var held []GatewayRefund
		for _, g := range gateway {
			if s.addGateway(g) {
				held = append(held, g)
			}
		}
		want := normal(referenceMatch(ledger, held))
		m := matchTables(&s.ledger, &s.gateway, &s.gwIndex)
		got := Matching{ByLedger: make([][]int32, len(ledger)), Matched: m.Matched}
		for i := range ledger {
			if row := m.of(i); len(row) > 0 {
				got.ByLedger[i] = row
			}
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("round %d: run matching %v, reference %v", round, got, want)
		}
		for _, l := range ledger {
			if l.ID != "" && !s.ledgerHeld(l.ID) {
				t.Fatalf("round %d: ledger id %q not held", round, l.ID)
			}
		}
		if s.ledgerHeld("lr_never") {
			t.Fatal("an id never added is held")
		}
	}
}
