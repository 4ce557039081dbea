package reconcile

import (
	"hash/maphash"
	"iter"
	"math"
	"slices"
	"strings"
	"time"
)

// A nightly run holds every refund of a 90-day window from both sides:
// millions. As LedgerRefund and GatewayRefund values that is some 180 bytes
// of headers each plus a heap object per string, all of it scanned by the
// garbage collector. A run holds them instead in tables: fixed-size rows
// without pointers, whose strings live once each in a chunked arena and are
// named by 32-bit ids. The two sides share most of their strings (the
// gateway's refund id is the ledger's gateway_refund_id, its metadata the
// ledger's id, the charge, payment intent and customer the same), so each
// is stored once; and equal strings have equal ids, so matching compares
// integers. A row reads back as the exact value that was added.

// strID names an interned string; 0 is "".
type strID uint32

// Arena layout: an id below bigBit is chunk<<chunkBits | offset of a
// length-prefixed string in that chunk; at or above, an index into big.
const (
	chunkBits = 20
	chunkSize = 1 << chunkBits
	maxChunks = 1 << (31 - chunkBits)
	bigBit    = 1 << 31
	// bigString is the length from which a string gets an allocation of
	// its own rather than a place in a chunk.
	bigString = chunkSize / 4
)

// strTable interns strings.
type strTable struct {
	// chunks hold the strings: a strings.Builder grown once to chunkSize
	// never moves, and its String shares the buffer, so a string read back
	// is a substring, not a copy.
	chunks []*strings.Builder
	big    []string
	// slots is an open-addressing table of the ids: the upper 32 bits of a
	// string's hash above id+1; 0 is empty. Its size need not be a power of
	// two: the home slot of a hash is (hash>>32 * len) >> 32.
	slots []uint64
	n     int
	seed  maphash.Seed
}

func newStrTable() *strTable {
	b := &strings.Builder{}
	b.Grow(chunkSize)
	b.WriteByte(0) // offset 0 of chunk 0 would be id 0: never a string
	return &strTable{chunks: []*strings.Builder{b}, seed: maphash.MakeSeed()}
}

// str returns the string id names, sharing the arena's memory.
func (t *strTable) str(id strID) string {
	switch {
	case id == 0:
		return ""
	case id&bigBit != 0:
		return t.big[id&^bigBit]
	}
	c := t.chunks[id>>chunkBits].String()
	off := int(id & (chunkSize - 1))
	n, k := 0, 0
	for shift := 0; ; shift += 7 {
		b := c[off+k]
		k++
		n |= int(b&0x7f) << shift
		if b < 0x80 {
			break
		}
	}
	return c[off+k : off+k+n]
}

func (t *strTable) home(tag uint64) int { return int(tag * uint64(len(t.slots)) >> 32) }

// find returns the slot of s (hashed to tag) and its id, or the empty slot
// where it would go and 0.
func (t *strTable) find(s string, tag uint64) (int, strID) {
	for k := t.home(tag); ; {
		v := t.slots[k]
		if v == 0 {
			return k, 0
		}
		if v>>32 == tag {
			if id := strID(uint32(v) - 1); t.str(id) == s {
				return k, id
			}
		}
		if k++; k == len(t.slots) {
			k = 0
		}
	}
}

// lookup returns the id of s if it is held.
func (t *strTable) lookup(s string) (strID, bool) {
	if s == "" {
		return 0, true
	}
	if t.n == 0 {
		return 0, false
	}
	_, id := t.find(s, maphash.String(t.seed, s)>>32)
	return id, id != 0
}

// intern returns the id of s, adding it when it is new.
func (t *strTable) intern(s string) strID {
	if s == "" {
		return 0
	}
	if (t.n+1)*5 > len(t.slots)*4 { // at most 80% full
		t.grow(max((t.n+1)*5/4+1, len(t.slots)*3/2, 64))
	}
	tag := maphash.String(t.seed, s) >> 32
	k, id := t.find(s, tag)
	if id != 0 {
		return id
	}
	id = t.put(s)
	t.slots[k] = tag<<32 | uint64(uint32(id)+1)
	t.n++
	return id
}

func (t *strTable) grow(size int) {
	old := t.slots
	t.slots = make([]uint64, size)
	for _, v := range old {
		if v == 0 {
			continue
		}
		k := t.home(v >> 32)
		for t.slots[k] != 0 {
			if k++; k == size {
				k = 0
			}
		}
		t.slots[k] = v
	}
}

// put stores s in the arena. A string of bigString bytes or more gets an
// allocation of its own, so a length prefix in a chunk is at most three
// bytes (21 bits); the prefix is only computed for a string that goes in a
// chunk.
func (t *strTable) put(s string) strID {
	if len(s) >= bigString {
		t.big = append(t.big, s)
		return strID(bigBit | (len(t.big) - 1))
	}
	var prefix [3]byte
	n := 0
	for v := len(s); ; v >>= 7 {
		if v < 0x80 {
			prefix[n] = byte(v)
			n++
			break
		}
		prefix[n] = byte(v) | 0x80
		n++
	}
	c := t.chunks[len(t.chunks)-1]
	if c.Len()+n+len(s) > chunkSize && len(t.chunks) == maxChunks {
		t.big = append(t.big, s)
		return strID(bigBit | (len(t.big) - 1))
	}
	if c.Len()+n+len(s) > chunkSize {
		c = &strings.Builder{}
		c.Grow(chunkSize)
		t.chunks = append(t.chunks, c)
	}
	id := strID((len(t.chunks)-1)<<chunkBits | c.Len())
	c.Write(prefix[:n])
	c.WriteString(s)
	return id
}

// Times are held as Unix nanoseconds when that reads back as the same
// value (UTC, no monotonic reading, years 1678 to 2262), which is what the
// store and the Stripe adapter give; a row with any other time is held
// whole, in its table's exotic map.
const (
	zeroTime   = math.MinInt64
	exoticTime = math.MinInt64 + 1
)

func nanos(t time.Time) (int64, bool) {
	if t == (time.Time{}) {
		return zeroTime, true
	}
	n := t.UnixNano()
	if n == zeroTime || n == exoticTime || time.Unix(0, n).UTC() != t {
		return 0, false
	}
	return n, true
}

func fromNanos(n int64) time.Time {
	if n == zeroTime {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// blocks is a growing array held in blocks of fixed size: growing never
// copies what it holds, nor leaves half of a doubled array empty.
type blocks[T any] struct {
	b [][]T
	n int
}

const blockBits = 13

func (x *blocks[T]) push(v T) {
	if x.n>>blockBits == len(x.b) {
		x.b = append(x.b, make([]T, 0, 1<<blockBits))
	}
	k := len(x.b) - 1
	x.b[k] = append(x.b[k], v)
	x.n++
}

func (x *blocks[T]) at(i int) *T { return &x.b[i>>blockBits][i&(1<<blockBits-1)] }

// ledgerRec is a LedgerRefund in a ledgerTable; exotic when the row is
// held whole in the table's exotic map (times that do not fit, AmountText).
type ledgerRec struct {
	id, customer, charge, intent, gatewayRefund, currency, status strID
	amountNull, exotic                                            bool
	amount                                                        int64
	completedAt, createdAt                                        int64
}

type ledgerTable struct {
	strs   *strTable
	rows   blocks[ledgerRec]
	exotic map[int32]LedgerRefund
}

func (t *ledgerTable) len() int { return t.rows.n }

func (t *ledgerTable) rec(i int) *ledgerRec { return t.rows.at(i) }

func (t *ledgerTable) add(l LedgerRefund) {
	r := ledgerRec{
		id: t.strs.intern(l.ID), customer: t.strs.intern(l.CustomerID), charge: t.strs.intern(l.ChargeID),
		intent: t.strs.intern(l.PaymentIntentID), gatewayRefund: t.strs.intern(l.GatewayRefundID),
		currency: t.strs.intern(l.Currency), status: t.strs.intern(string(l.Status)),
		amountNull: l.AmountNull, amount: l.Amount,
	}
	var ok1, ok2 bool
	r.completedAt, ok1 = nanos(l.CompletedAt)
	r.createdAt, ok2 = nanos(l.CreatedAt)
	if !ok1 || !ok2 || l.AmountText != "" { // a bad amount's text is rare: held whole
		r.exotic = true
		if t.exotic == nil {
			t.exotic = map[int32]LedgerRefund{}
		}
		t.exotic[int32(t.rows.n)] = l
	}
	t.rows.push(r)
}

// at returns row i as it was added.
func (t *ledgerTable) at(i int) LedgerRefund {
	r := t.rows.at(i)
	if r.exotic {
		return t.exotic[int32(i)]
	}
	s := t.strs
	return LedgerRefund{
		ID: s.str(r.id), CustomerID: s.str(r.customer), ChargeID: s.str(r.charge), PaymentIntentID: s.str(r.intent),
		GatewayRefundID: s.str(r.gatewayRefund), Amount: r.amount, AmountNull: r.amountNull, Currency: s.str(r.currency),
		Status: LedgerStatus(s.str(r.status)), CompletedAt: fromNanos(r.completedAt), CreatedAt: fromNanos(r.createdAt),
	}
}

// all yields every row, in order.
func (t *ledgerTable) all() iter.Seq2[int, LedgerRefund] {
	return func(yield func(int, LedgerRefund) bool) {
		for i := range t.rows.n {
			if !yield(i, t.at(i)) {
				return
			}
		}
	}
}

// gatewayRec is a GatewayRefund in a gatewayTable; created is exoticTime
// for a refund held whole in the exotic map.
type gatewayRec struct {
	id, charge, intent, customer, ledgerRefund, currency, status, reason strID
	amount, created, failedAt                                            int64
}

type gatewayTable struct {
	strs   *strTable
	rows   blocks[gatewayRec]
	exotic map[int32]GatewayRefund
}

func (t *gatewayTable) len() int { return t.rows.n }

func (t *gatewayTable) rec(j int) *gatewayRec { return t.rows.at(j) }

func (t *gatewayTable) add(g GatewayRefund) {
	r := gatewayRec{
		id: t.strs.intern(g.ID), charge: t.strs.intern(g.ChargeID), intent: t.strs.intern(g.PaymentIntentID),
		customer: t.strs.intern(g.CustomerID), ledgerRefund: t.strs.intern(g.LedgerRefundID),
		currency: t.strs.intern(g.Currency), status: t.strs.intern(string(g.Status)), reason: t.strs.intern(g.FailureReason),
		amount: g.Amount,
	}
	t.rows.push(r)
	t.setTimes(t.rows.n-1, g)
}

// setTimes stores g's times in row j, holding g whole when they do not fit.
func (t *gatewayTable) setTimes(j int, g GatewayRefund) {
	r := t.rows.at(j)
	created, ok1 := nanos(g.Created)
	failed, ok2 := nanos(g.FailedAt)
	if ok1 && ok2 {
		if r.created == exoticTime {
			delete(t.exotic, int32(j))
		}
		r.created, r.failedAt = created, failed
		return
	}
	r.created = exoticTime
	if t.exotic == nil {
		t.exotic = map[int32]GatewayRefund{}
	}
	t.exotic[int32(j)] = g
}

// at returns refund j as it was added (with FailedAt as last set).
func (t *gatewayTable) at(j int) GatewayRefund {
	r := t.rows.at(j)
	if r.created == exoticTime {
		return t.exotic[int32(j)]
	}
	s := t.strs
	return GatewayRefund{
		ID: s.str(r.id), ChargeID: s.str(r.charge), PaymentIntentID: s.str(r.intent), CustomerID: s.str(r.customer),
		Amount: r.amount, Currency: s.str(r.currency), Status: GatewayStatus(s.str(r.status)), FailureReason: s.str(r.reason),
		LedgerRefundID: s.str(r.ledgerRefund), Created: fromNanos(r.created), FailedAt: fromNanos(r.failedAt),
	}
}

// replace overwrites refund j with g, a fresher read of the same refund.
func (t *gatewayTable) replace(j int, g GatewayRefund) {
	r := t.rows.at(j)
	*r = gatewayRec{
		id: r.id, charge: t.strs.intern(g.ChargeID), intent: t.strs.intern(g.PaymentIntentID),
		customer: t.strs.intern(g.CustomerID), ledgerRefund: t.strs.intern(g.LedgerRefundID),
		currency: t.strs.intern(g.Currency), status: t.strs.intern(string(g.Status)), reason: t.strs.intern(g.FailureReason),
		amount: g.Amount, created: r.created,
	}
	t.setTimes(j, g)
}

// setFailedAt records when the gateway failed refund j.
func (t *gatewayTable) setFailedAt(j int, at time.Time) {
	g := t.at(j)
	g.FailedAt = at
	t.setTimes(j, g)
}

// all yields every refund, in order.
func (t *gatewayTable) all() iter.Seq2[int, GatewayRefund] {
	return func(yield func(int, GatewayRefund) bool) {
		for j := range t.rows.n {
			if !yield(j, t.at(j)) {
				return
			}
		}
	}
}

// idMap maps string ids to int32 values: an open-addressing table whose
// slots hold id+1 above the value, 0 being empty.
type idMap struct {
	slots []uint64
	n     int
}

func (m *idMap) home(id strID) int {
	return int((uint64(id)*0x9e3779b97f4a7c15)>>32) * len(m.slots) >> 32
}

func (m *idMap) find(id strID) int {
	key := uint64(id) + 1
	for k := m.home(id); ; {
		v := m.slots[k]
		if v == 0 || v>>32 == key {
			return k
		}
		if k++; k == len(m.slots) {
			k = 0
		}
	}
}

func (m *idMap) get(id strID) (int32, bool) {
	if m.n == 0 {
		return -1, false
	}
	v := m.slots[m.find(id)]
	if v == 0 {
		return -1, false
	}
	return int32(uint32(v)), true
}

// put sets id's value.
func (m *idMap) put(id strID, v int32) {
	if (m.n+1)*4 > len(m.slots)*3 {
		old := m.slots
		m.slots = make([]uint64, max(len(old)*2, 64))
		for _, s := range old {
			if s != 0 {
				m.slots[m.find(strID(s>>32-1))] = s
			}
		}
	}
	k := m.find(id)
	if m.slots[k] == 0 {
		m.n++
	}
	m.slots[k] = (uint64(id)+1)<<32 | uint64(uint32(v))
}

// matching is Matching for the tables: row i's matches are
// flat[off[i]:off[i+1]] (steps 1 and 2) or, when none, byCharge[i:i+1]
// when byCharge[i] is not -1 (step 3).
type matching struct {
	off      []int32
	flat     []int32
	byCharge []int32
	Matched  []bool
}

func (m *matching) of(i int) []int32 {
	if a, b := m.off[i], m.off[i+1]; a < b {
		return m.flat[a:b:b]
	}
	if m.byCharge[i] >= 0 {
		return m.byCharge[i : i+1 : i+1]
	}
	return nil
}

// matchTables is Match over the tables: the same pairs, found by
// comparing string ids. byID, when not nil, already maps every refund id
// of gateway to its index (the run keeps one); ids must then be unique.
func matchTables(ledger *ledgerTable, gateway *gatewayTable, byID *idMap) matching {
	nl, ng := ledger.len(), gateway.len()
	m := matching{off: make([]int32, nl+1), flat: make([]int32, 0, nl), byCharge: make([]int32, nl), Matched: make([]bool, ng)}
	if byID == nil {
		byID = &idMap{slots: make([]uint64, max(ng*4/3+1, 64))}
		for j := range ng {
			byID.put(gateway.rec(j).id, int32(j)) // the last of equal ids wins
		}
	}
	var byMeta idMap
	var next []int32
	for j := range ng {
		lid := gateway.rec(j).ledgerRefund
		if lid == 0 {
			continue
		}
		if next == nil {
			byMeta.slots = make([]uint64, max((ng-j)*4/3+1, 64))
			next = make([]int32, ng)
		}
		head, ok := byMeta.get(lid)
		if !ok {
			head = -1
		}
		next[j] = head
		byMeta.put(lid, int32(j))
	}
	for i := range nl {
		l := ledger.rec(i)
		start := len(m.flat)
		if l.gatewayRefund != 0 {
			if j, ok := byID.get(l.gatewayRefund); ok {
				m.flat = append(m.flat, j)
			}
		}
		if l.id != 0 && next != nil {
			if j, ok := byMeta.get(l.id); ok {
				for ; j >= 0; j = next[j] {
					m.flat = appendNew(m.flat, start, j)
				}
			}
		}
		row := m.flat[start:]
		if len(row) > 1 {
			slices.Sort(row)
		}
		for _, j := range row {
			m.Matched[j] = true
		}
		m.off[i+1] = int32(len(m.flat))
		m.byCharge[i] = -1
	}

	// Step 3 concerns the refunds steps 1 and 2 left without a match:
	// matchByCharge runs on those alone, in their order, which pairs them
	// exactly as it would among all.
	var subL []LedgerRefund
	var subG []GatewayRefund
	var li, gi []int32
	for i := range nl {
		if r := ledger.rec(i); m.off[i] == m.off[i+1] && (r.charge != 0 || r.intent != 0) {
			subL = append(subL, ledger.at(i))
			li = append(li, int32(i))
		}
	}
	if len(subL) == 0 {
		return m
	}
	for j := range ng {
		if r := gateway.rec(j); !m.Matched[j] && (r.charge != 0 || r.intent != 0) {
			subG = append(subG, gateway.at(j))
			gi = append(gi, int32(j))
		}
	}
	sub := Matching{ByLedger: make([][]int32, len(subL)), Matched: make([]bool, len(subG))}
	matchByCharge(subL, subG, &sub)
	for k, row := range sub.ByLedger {
		if len(row) > 0 {
			j := gi[row[0]]
			m.byCharge[li[k]] = j
			m.Matched[j] = true
		}
	}
	return m
}
