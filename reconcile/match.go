package reconcile

import (
	"cmp"
	"hash/maphash"
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
// Match holds both sides in a run's compact tables and matches them there,
// as every run does (matchTables): there is one implementation.
func Match(ledger []LedgerRefund, gateway []GatewayRefund) Matching {
	lt, gt := newTables(ledger, gateway)
	tm := matchTables(lt, gt, nil)
	m := Matching{ByLedger: make([][]int32, len(ledger)), Matched: tm.Matched}
	for i := range ledger {
		if row := tm.of(i); len(row) > 0 {
			m.ByLedger[i] = row
		}
	}
	return m
}

// newTables puts both sides into tables sharing one string table, in
// order, as a run holds them.
func newTables(ledger []LedgerRefund, gateway []GatewayRefund) (*ledgerTable, *gatewayTable) {
	strs := newStrTable()
	lt, gt := &ledgerTable{strs: strs}, &gatewayTable{strs: strs}
	for _, l := range ledger {
		lt.add(l)
	}
	for _, g := range gateway {
		gt.add(g)
	}
	return lt, gt
}

// index is an open-addressing hash table (linear probing, at most half
// full) from keys the caller hashes to int32 values; it stores no keys, so
// the caller's eq tells whether the value under a matching tag is the one.
// A slot holds the hash's upper 32 bits and value+1; 0 is empty.
type index struct {
	slots []uint64
	mask  uint64
}

func newIndex(n int) index {
	size := 8
	for size < 2*n {
		size <<= 1
	}
	return index{slots: make([]uint64, size), mask: uint64(size - 1)}
}

// find returns the slot holding the value whose key hashes to h and
// satisfies eq, and that value; or the empty slot where it would go, and
// -1. The table must have room (newIndex sized it).
func (x *index) find(h uint64, eq func(int32) bool) (int, int32) {
	tag := h >> 32
	for k := h & x.mask; ; k = (k + 1) & x.mask {
		v := x.slots[k]
		if v == 0 {
			return int(k), -1
		}
		if v>>32 == tag {
			if e := int32(uint32(v)) - 1; eq(e) {
				return int(k), e
			}
		}
	}
}

// set stores value e of a key that hashes to h in slot.
func (x *index) set(slot int, h uint64, e int32) {
	x.slots[slot] = h>>32<<32 | uint64(uint32(e+1))
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

// matchByCharge is step 3. Groups are numbered in the order their key
// first appears in the ledger and are paired in that order; within a
// group the pairs are sorted by gap, ledger index and gateway id, and taken
// greedily, so the outcome does not depend on how the groups are found.
func matchByCharge(ledger []LedgerRefund, gateway []GatewayRefund, m *Matching) {
	n := 0
	for i := range ledger {
		if len(m.ByLedger[i]) == 0 && (ledger[i].ChargeID != "" || ledger[i].PaymentIntentID != "") {
			n++
		}
	}
	if n == 0 {
		return
	}
	seed := maphash.MakeSeed()
	groups := newIndex(n)
	var keys []chargeKey // by group number
	// find returns the group of k, -1 for none; add the group it has or
	// gets.
	find := func(k chargeKey) (int, uint64, int32) {
		h := k.hash(seed)
		slot, g := groups.find(h, func(e int32) bool { return keys[e] == k })
		return slot, h, g
	}
	ledgerGroup := make([]int32, 0, n) // parallel to members
	members := make([]int32, 0, n)
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
		slot, h, g := find(k)
		if g < 0 {
			g = int32(len(keys))
			keys = append(keys, k)
			groups.set(slot, h, g)
		}
		members = append(members, int32(i))
		ledgerGroup = append(ledgerGroup, g)
	}
	var candGroup, cands []int32
	for j := range gateway {
		if m.Matched[j] {
			continue
		}
		g := &gateway[j]
		if g.ChargeID != "" {
			if _, _, grp := find(chargeKey{ref: g.ChargeID, amount: g.Amount, currency: g.Currency}); grp >= 0 {
				candGroup, cands = append(candGroup, grp), append(cands, int32(j))
			}
		}
		if g.PaymentIntentID != "" {
			if _, _, grp := find(chargeKey{ref: g.PaymentIntentID, byIntent: true, amount: g.Amount, currency: g.Currency}); grp >= 0 {
				candGroup, cands = append(candGroup, grp), append(cands, int32(j))
			}
		}
	}
	if len(cands) == 0 {
		return
	}
	lOff, lAt := bucket(len(keys), ledgerGroup, members)
	gOff, gAt := bucket(len(keys), candGroup, cands)
	rows := make([]int32, len(members)) // backing of the one-match rows
	taken := 0
	take := func(i, j int32) {
		rows[taken] = j
		m.ByLedger[i] = rows[taken : taken+1 : taken+1]
		taken++
		m.Matched[j] = true
	}
	type pair struct {
		l, g int32
		gap  time.Duration
	}
	var pairs []pair
	for k := range keys {
		gs := gAt[gOff[k]:gOff[k+1]]
		if len(gs) == 0 {
			continue
		}
		ls := lAt[lOff[k]:lOff[k+1]]
		if len(ls) == 1 && len(gs) == 1 { // the common case: nothing to order
			if !m.Matched[gs[0]] {
				take(ls[0], gs[0])
			}
			continue
		}
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
			take(p.l, p.g)
		}
	}
}

// hash hashes a charge key.
func (k *chargeKey) hash(seed maphash.Seed) uint64 {
	h := maphash.String(seed, k.ref) ^ uint64(k.amount)*0x9e3779b97f4a7c15
	for i := 0; i < len(k.currency); i++ {
		h = (h ^ uint64(k.currency[i])) * 0x100000001b3
	}
	if k.byIntent {
		h = ^h
	}
	return h ^ h>>29
}

// bucket groups values by group number, keeping their order: group k's
// values are at[off[k]:off[k+1]].
func bucket(groups int, group, values []int32) (off, at []int32) {
	off = make([]int32, groups+1)
	for _, g := range group {
		off[g+1]++
	}
	for k := range groups {
		off[k+1] += off[k]
	}
	at = make([]int32, len(values))
	next := slices.Clone(off[:groups])
	for n, g := range group {
		at[next[g]] = values[n]
		next[g]++
	}
	return off, at
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
