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
// Match is pure and allocation-light: it is the inner loop of a nightly run
// over millions of refunds. Its two look-ups (gateway refund by id, by the
// ledger id its metadata names) are open-addressing tables of indexes that
// keep a 32-bit tag of each key's hash beside the index, so a probe seldom
// touches a refund that is not the one sought.
func Match(ledger []LedgerRefund, gateway []GatewayRefund) Matching {
	m := Matching{
		ByLedger: make([][]int32, len(ledger)),
		Matched:  make([]bool, len(gateway)),
	}
	seed := maphash.MakeSeed()
	// The tables are bigger than the caches at a million refunds: each
	// pass hashes a batch of keys and touches their home slots first, so
	// that the batch's cache misses overlap instead of queueing.
	var hs [batch]uint64
	byID := newIndex(len(gateway))
	for b := 0; b < len(gateway); b += batch {
		blk := gateway[b:min(b+batch, len(gateway))]
		for k := range blk {
			hs[k] = maphash.String(seed, blk[k].ID)
		}
		byID.touch(hs[:len(blk)])
		for k := range blk {
			id := blk[k].ID
			slot, _ := byID.find(hs[k], func(e int32) bool { return gateway[e].ID == id })
			byID.set(slot, hs[k], int32(b+k)) // the last of equal ids wins
		}
	}
	// byMeta holds, per ledger id named in metadata, the last gateway refund
	// naming it; next chains it to the earlier ones (a failed attempt and
	// its retry), newest first.
	var byMeta index
	var next []int32
	for b := 0; b < len(gateway); b += batch {
		blk := gateway[b:min(b+batch, len(gateway))]
		if next == nil {
			for k := range blk {
				if blk[k].LedgerRefundID != "" {
					byMeta = newIndex(len(gateway) - b)
					next = make([]int32, len(gateway))
					break
				}
			}
			if next == nil {
				continue
			}
		}
		for k := range blk {
			hs[k] = maphash.String(seed, blk[k].LedgerRefundID)
		}
		byMeta.touch(hs[:len(blk)])
		for k := range blk {
			lid := blk[k].LedgerRefundID
			if lid == "" {
				continue
			}
			slot, head := byMeta.find(hs[k], func(e int32) bool { return gateway[e].LedgerRefundID == lid })
			next[b+k] = head
			byMeta.set(slot, hs[k], int32(b+k))
		}
	}

	// Matches of steps 1 and 2 share one backing array: one allocation
	// instead of one per ledger refund. A full slice expression keeps each
	// row's window from growing into the next.
	flat := make([]int32, 0, len(ledger))
	var ms [batch]uint64
	for b := 0; b < len(ledger); b += batch {
		blk := ledger[b:min(b+batch, len(ledger))]
		for k := range blk {
			hs[k] = maphash.String(seed, blk[k].GatewayRefundID)
			ms[k] = maphash.String(seed, blk[k].ID)
		}
		byID.touch(hs[:len(blk)])
		if next != nil {
			byMeta.touch(ms[:len(blk)])
		}
		for k := range blk {
			l := &blk[k]
			start := len(flat)
			if id := l.GatewayRefundID; id != "" {
				if _, j := byID.find(hs[k], func(e int32) bool { return gateway[e].ID == id }); j >= 0 {
					flat = append(flat, j)
				}
			}
			if lid := l.ID; lid != "" && next != nil {
				_, j := byMeta.find(ms[k], func(e int32) bool { return gateway[e].LedgerRefundID == lid })
				for ; j >= 0; j = next[j] {
					flat = appendNew(flat, start, j)
				}
			}
			if len(flat) > start {
				row := flat[start:len(flat):len(flat)]
				if len(row) > 1 {
					slices.Sort(row)
				}
				m.ByLedger[b+k] = row
				for _, j := range row {
					m.Matched[j] = true
				}
			}
		}
	}
	matchByCharge(ledger, gateway, &m)
	return m
}

// batch is how many keys a pass of Match hashes and touches at once.
const batch = 16

// index is an open-addressing hash table (linear probing, at most half
// full) from keys the caller hashes to int32 values; it stores no keys, so
// the caller's eq tells whether the value under a matching tag is the one.
// A slot holds the hash's upper 32 bits and value+1; 0 is empty.
type index struct {
	slots []uint64
	mask  uint64
	sink  uint64 // keeps touch's loads
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

// touch loads the home slots of hs, so that their cache misses overlap.
func (x *index) touch(hs []uint64) {
	var sum uint64
	for _, h := range hs {
		sum += x.slots[h&x.mask]
	}
	x.sink += sum
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
