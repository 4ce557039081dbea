package bench

import (
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// MetadataKey is the refund metadata key the generated gateway refunds use.
const MetadataKey = "ledger_refund_id"

// Window is the run's scope: the 90 days before Now, as `refundrecon run`
// covers by default.
const Window = 90 * 24 * time.Hour

// Dataset describes generated data: N slots, each one charge with the
// refund the ledger records and the refund(s) the gateway holds, derived
// from (Seed, slot number) alone. Any process that knows N, Seed and Now
// makes the same data, so the fake Stripe and the loader never ship it over
// a pipe, and nothing holds it all: Slot fills one slot at a time.
//
// One slot in 100 (those with i%100 == 50) plants one discrepancy, the
// kinds taking turns in precedence order, so every kind appears once N
// reaches 1,100 and Expected says exactly what a run must find. The other
// slots are healthy but varied: currencies in any letter case, refunds
// whose gateway id the ledger lost (found through metadata) and refunds with
// neither id nor metadata (paired by charge and amount).
type Dataset struct {
	N    int
	Seed uint64
	// Now is the simulated clock; refunds are created between 88 and 6 days
	// before it, so all lie inside the run's window and every pending one is
	// older than --pending-after.
	Now time.Time
}

// Slot is one generated charge and its refunds on either side.
type Slot struct {
	Charge fakestripe.Charge
	// Ledger holds the ledger's row, when the ledger has one.
	Ledger    reconcile.LedgerRefund
	HasLedger bool
	// Gateway holds the gateway's refunds: none, one, or two for a
	// duplicate.
	Gateway []fakestripe.Refund
	// FailAt, when set, is when the gateway fails Gateway[0], for
	// FailReason, after it succeeded: a late failure, found through a
	// refund_failure balance transaction.
	FailAt     time.Time
	FailReason string
	// Kind is the planted discrepancy, "" for a healthy slot.
	Kind reconcile.Kind

	gw  [2]fakestripe.Refund
	rnd rand.PCG
}

// plantEvery is the stride of planted discrepancies: one slot in 100.
const plantEvery = 100

var failureReasons = []string{"expired_or_canceled_card", "lost_or_stolen_card", "declined", "insufficient_funds"}

// Kind returns the discrepancy planted in slot i, "" for a healthy one.
func (d Dataset) Kind(i int) reconcile.Kind {
	if i%plantEvery != plantEvery/2 {
		return ""
	}
	return reconcile.Kinds[(i/plantEvery)%len(reconcile.Kinds)]
}

// lateFailure reports whether planted gateway_failed slot i is a refund that
// succeeded long before the window and failed inside it.
func (d Dataset) lateFailure(i int) bool {
	return d.Kind(i) == reconcile.GatewayFailed && (i/(plantEvery*len(reconcile.Kinds)))%4 == 1
}

// Expected counts the discrepancies a run over the whole data set must find,
// by kind.
func (d Dataset) Expected() map[reconcile.Kind]int {
	m := map[reconcile.Kind]int{}
	for i := plantEvery / 2; i < d.N; i += plantEvery {
		m[d.Kind(i)]++
	}
	return m
}

// Scope is the run's window: the 90 days before Now.
func (d Dataset) Scope() reconcile.Scope {
	return reconcile.Scope{Since: d.Now.Add(-Window), Until: d.Now}
}

// customers is how many customers the refunds spread over.
func (d Dataset) customers() int { return max(d.N/20, 10) }

// at is when slot i's refund was requested: evenly spread from 88 to 6 days
// before Now, whole seconds.
func (d Dataset) at(i int) time.Time {
	const from, to = 88 * 24 * time.Hour, 6 * 24 * time.Hour
	span := int64(from - to)
	off := time.Duration(span / int64(max(d.N, 1)) * int64(i))
	return d.Now.Add(-from + off).Truncate(time.Second)
}

// Slot fills s with slot i. It reuses s's storage: a caller keeping a
// slot's refunds copies them.
func (d Dataset) Slot(i int, s *Slot) {
	s.rnd.Seed(d.Seed, uint64(i))
	r := rand.New(&s.rnd)
	kind := d.Kind(i)
	at := d.at(i)
	late := d.lateFailure(i)
	if late {
		// Created before the run reads, even with its 30-day margin.
		at = d.Now.Add(-Window - 40*24*time.Hour).Truncate(time.Second)
	}

	cus := customerID(d.Seed, r.IntN(d.customers()))
	cur, amount := currency(r)
	s.Charge = fakestripe.Charge{
		ID: stripeID("ch_", d.Seed, 1, i), Customer: cus, PaymentIntent: stripeID("pi_", d.Seed, 2, i),
		Amount: amount, Currency: cur, Created: at.Add(-time.Duration(1+r.IntN(72)) * time.Hour),
	}
	refunded := amount
	if r.IntN(5) == 0 { // a partial refund
		refunded = amount / 2
	}
	lid := ledgerID(d.Seed, i)
	reID := stripeID("re_", d.Seed, 3, i)
	ledgerCur := cur
	switch r.IntN(3) { // ledgers write currencies in any case
	case 0:
		ledgerCur = upper(cur)
	}
	s.Ledger = reconcile.LedgerRefund{
		ID: lid, CustomerID: cus, ChargeID: s.Charge.ID, PaymentIntentID: s.Charge.PaymentIntent,
		GatewayRefundID: reID, Amount: refunded, Currency: ledgerCur, Status: reconcile.LedgerComplete,
		CreatedAt: at, CompletedAt: at.Add(time.Duration(1+r.IntN(30)) * time.Second),
	}
	s.HasLedger = true
	s.gw[0] = fakestripe.Refund{
		ID: reID, Charge: s.Charge.ID, Amount: refunded, Currency: cur, Status: fakestripe.StatusSucceeded,
		Metadata: map[string]string{MetadataKey: lid}, Created: at.Add(time.Second),
	}
	s.Gateway = s.gw[:1]
	s.FailAt, s.FailReason = time.Time{}, ""
	s.Kind = kind

	if kind == "" {
		switch r.IntN(50) {
		case 0, 1: // the gateway's answer was lost: found through metadata
			s.Ledger.GatewayRefundID = ""
		case 2: // neither: paired by charge, amount and currency
			s.Ledger.GatewayRefundID = ""
			s.gw[0].Metadata = nil
		}
		if r.IntN(10) == 0 {
			s.Ledger.PaymentIntentID = ""
		}
		return
	}

	g := &s.gw[0]
	switch kind {
	case reconcile.MissingAtGateway:
		s.Gateway = s.gw[:0]
		if (i/(plantEvery*len(reconcile.Kinds)))%2 == 0 {
			s.Ledger.GatewayRefundID = "" // the answer was lost
		}
	case reconcile.GatewayFailed:
		reason := failureReasons[r.IntN(len(failureReasons))]
		if late {
			s.FailAt, s.FailReason = d.at(i), reason
		} else {
			g.Status, g.FailureReason = fakestripe.StatusFailed, reason
		}
	case reconcile.GatewayCanceled:
		g.Status = fakestripe.StatusCanceled
	case reconcile.DuplicateAtGateway:
		s.gw[1] = *g
		s.gw[1].ID = stripeID("re_", d.Seed, 4, i)
		s.gw[1].Created = g.Created.Add(2 * time.Minute)
		s.Gateway = s.gw[:2]
	case reconcile.GatewayPendingTooLong:
		g.Status = fakestripe.StatusPending
	case reconcile.CurrencyMismatch:
		s.Ledger.Currency = map[string]string{"usd": "EUR", "eur": "USD", "jpy": "USD"}[cur]
	case reconcile.AmountMismatch:
		g.Amount = refunded - max(refunded/10, 1)
	case reconcile.CustomerMismatch:
		s.Ledger.CustomerID = customerID(d.Seed, d.customers()+i)
	case reconcile.LedgerNotComplete:
		s.Ledger.Status, s.Ledger.CompletedAt = reconcile.LedgerPending, time.Time{}
	case reconcile.MissingInLedger:
		s.HasLedger = false
		g.Metadata = nil
	case reconcile.InvalidLedgerRow:
		switch (i / (plantEvery * len(reconcile.Kinds))) % 3 {
		case 0:
			s.Ledger.Amount = 0
		case 1:
			s.Ledger.Currency = "XBT"
		default:
			s.Ledger.Status = "done"
		}
	}
}

// currency picks a currency and a charge amount in its minor units.
func currency(r *rand.Rand) (string, int64) {
	switch n := r.IntN(100); {
	case n < 60:
		return "usd", 100 * (5 + r.Int64N(400))
	case n < 85:
		return "eur", 100 * (5 + r.Int64N(300))
	default:
		return "jpy", 100 * (5 + r.Int64N(500))
	}
}

func upper(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'a' <= c && c <= 'z' {
			b[i] = c - 'a' + 'A'
		}
	}
	return string(b)
}

const base62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

// mix is SplitMix64's finaliser.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ x>>30) * 0xbf58476d1ce4e5b9
	x = (x ^ x>>27) * 0x94d049bb133111eb
	return x ^ x>>31
}

// stripeID makes an id the length of Stripe's (prefix and 24 characters):
// 12 pseudo-random characters, then 12 that encode n, so ids of one tag
// never collide.
func stripeID(prefix string, seed, tag uint64, n int) string {
	b := make([]byte, 0, len(prefix)+24)
	b = append(b, prefix...)
	h := mix(seed ^ mix(tag<<48^uint64(n)))
	for range 12 {
		b = append(b, base62[h%62])
		h /= 62
		if h == 0 {
			h = mix(uint64(n) + tag)
		}
	}
	var tail [12]byte
	v := uint64(n)
	for k := len(tail) - 1; k >= 0; k-- {
		tail[k] = base62[v%62]
		v /= 62
	}
	return string(append(b, tail[:]...))
}

// ledgerID is a UUID, the way internal ledgers name rows; its last 48 bits
// are n, so ids never collide.
func ledgerID(seed uint64, n int) string {
	h := mix(seed ^ 0x1ed6e5)
	h2 := mix(h ^ uint64(n))
	return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", uint32(h2>>32), uint16(h2>>16), h2&0xfff, (h2>>12)&0xfff, uint64(n)&0xffffffffffff)
}

// customerID names customer c: "cus_" and 14 characters.
func customerID(seed uint64, c int) string {
	id := stripeID("cus_", seed, 5, c)
	return id[:4+2] + id[len(id)-12:]
}
