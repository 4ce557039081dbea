package reconcile

import (
	"cmp"
	"math"
	"slices"
	"time"
)

// Matching pairs ledger refunds with gateway refunds by index.
type Matching struct {
	// ByLedger[i] holds the indexes of the gateway refunds matched to ledger
	// refund i, in gateway order; empty when none matched.
	ByLedger [][]int32
	// Matched[j] reports whether gateway refund j matched a ledger refund.
	Matched []bool
}

// Match applies the contract's matching order. A ledger refund matches
//  1. the gateway refund whose id is its gateway_refund_id, and
//  2. every gateway refund whose metadata names its id;
//  3. only when 1 and 2 find nothing: a gateway refund of the same charge
//     (or, for a ledger row without a charge, payment intent) with the same
//     amount and currency that 1 and 2 left unmatched, each side used at most
//     once, nearest in time first.
//
// Match is pure and allocation-light: it is the inner loop of a nightly run
// over millions of refunds.
func Match(ledger []LedgerRefund, gateway []GatewayRefund) Matching {
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
	matchByCharge(ledger, gateway, &m)
	return m
}

// appendNew appends j unless flat[start:] holds it already.
func appendNew(flat []int32, start int, j int32) []int32 {
	if slices.Contains(flat[start:], j) {
		return flat
	}
	return append(flat, j)
}

// chargeKey groups refunds that step 3 may pair.
type chargeKey struct {
	ref      string // charge id, or payment intent id when byIntent
	byIntent bool
	amount   int64
	currency string
}

// matchByCharge is step 3.
func matchByCharge(ledger []LedgerRefund, gateway []GatewayRefund, m *Matching) {
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

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		if d == math.MinInt64 { // Sub saturates; its negation would overflow
			return math.MaxInt64
		}
		return -d
	}
	return d
}
