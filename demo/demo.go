// Package demo generates a realistic, deterministic ledger and the Stripe
// account that goes with it: customers, charges, partial refunds in USD,
// EUR and JPY, and a few planted cases of every discrepancy kind. It
// imports reconcile and the fake Stripe server, never the store.
package demo

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// Options size the generated data.
type Options struct {
	Customers int
	Refunds   int
	Seed      uint64
	// Now is the simulated clock; the data spreads over the 90 days before it.
	Now time.Time
	// PerKind is how many cases of each discrepancy kind to plant.
	PerKind int
}

// Data is one generated ledger and its gateway account.
type Data struct {
	Ledger []reconcile.LedgerRefund
	// Customers are the Stripe customers, each with an e-mail address.
	Customers []fakestripe.Customer
	Charges   []fakestripe.Charge
	Refunds   []fakestripe.Refund
	// Failures are refunds that succeeded and failed later, at the time given.
	Failures []Failure
	// Planted counts the cases planted per kind.
	Planted map[reconcile.Kind]int
	// LateFailure is the customer whose refund the ledger marked complete and
	// the gateway failed weeks later: the support call the demo answers.
	LateFailure string
	// LateFailureEmail is that customer's e-mail address: what the customer
	// gives support on the phone.
	LateFailureEmail string
}

// Failure fails a refund at a time after it succeeded.
type Failure struct {
	RefundID, Reason string
	At               time.Time
}

// MetadataKey is the refund metadata key the demo's gateway refunds use.
const MetadataKey = "ledger_refund_id"

var failureReasons = []string{"expired_or_canceled_card", "lost_or_stolen_card", "declined", "insufficient_funds"}

type generator struct {
	o    Options
	rnd  *rand.Rand
	d    *Data
	nch  int
	nref int
}

// Generate makes the data for o. The same options give the same data.
func Generate(o Options) *Data {
	if o.Customers <= 0 {
		o.Customers = 300
	}
	if o.Refunds <= 0 {
		o.Refunds = 2000
	}
	if o.PerKind <= 0 {
		o.PerKind = 3
	}
	g := &generator{o: o, rnd: rand.New(rand.NewPCG(o.Seed, 0x5eed)), d: &Data{Planted: map[reconcile.Kind]int{}}}
	g.generate()
	// Every customer has an e-mail address (outside the random sequence, so
	// the rest of the data stays as it was for a seed).
	for i := 1; i <= o.Customers; i++ {
		id := fmt.Sprintf("cus_demo%05d", i)
		g.d.Customers = append(g.d.Customers, fakestripe.Customer{ID: id, Email: Email(id), Created: o.Now.Add(-400 * 24 * time.Hour).Truncate(time.Second)})
	}
	return g.d
}

// Email is the demo's e-mail address of a customer: customer 42 is
// customer00042@example.com.
func Email(customerID string) string {
	return "customer" + strings.TrimPrefix(customerID, "cus_demo") + "@example.com"
}

// arn is a refund's card network reference (an acquirer reference number:
// 23 digits), derived from its number so the random sequence is untouched.
func arn(n int) string {
	return fmt.Sprintf("7453%019d", uint64(n)*2654435761%10_000_000_000_000_000_000)
}

func (g *generator) customer() string {
	return fmt.Sprintf("cus_demo%05d", 1+g.rnd.IntN(g.o.Customers))
}

// within returns a time up to span before now, whole seconds.
func (g *generator) within(span time.Duration) time.Time {
	return g.o.Now.Add(-time.Duration(g.rnd.Int64N(int64(span)))).Truncate(time.Second)
}

func (g *generator) currency() (string, int64) {
	switch r := g.rnd.IntN(100); {
	case r < 60:
		return "usd", 100 * (5 + g.rnd.Int64N(400)) // $5 to $405
	case r < 85:
		return "eur", 100 * (5 + g.rnd.Int64N(300))
	default:
		return "jpy", 100 * (5 + g.rnd.Int64N(500)) // ¥500 to ¥50,400
	}
}

// pair is one refund as both sides should record it.
type pair struct {
	l reconcile.LedgerRefund
	r fakestripe.Refund
}

// newCharge adds a charge and returns its refunds-to-be: one full refund, or
// two or three partial ones.
func (g *generator) newCharge(created time.Time) []pair {
	g.nch++
	cus := g.customer()
	cur, amount := g.currency()
	ch := fakestripe.Charge{ID: fmt.Sprintf("ch_demo%06d", g.nch), Customer: cus, PaymentIntent: fmt.Sprintf("pi_demo%06d", g.nch),
		Amount: amount, Currency: cur, Created: created.Add(-time.Duration(1+g.rnd.IntN(72)) * time.Hour)}
	g.d.Charges = append(g.d.Charges, ch)
	parts := []int64{amount}
	if g.rnd.IntN(5) == 0 && amount >= 600 { // partial refunds
		first := amount / 3
		parts = []int64{first, amount - first}
	}
	var out []pair
	at := created
	for _, p := range parts {
		g.nref++
		id := fmt.Sprintf("lr_demo%06d", g.nref)
		re := fmt.Sprintf("re_demo%06d", g.nref)
		completed := at.Add(time.Duration(1+g.rnd.IntN(30)) * time.Second)
		out = append(out, pair{
			l: reconcile.LedgerRefund{ID: id, CustomerID: cus, ChargeID: ch.ID, PaymentIntentID: ch.PaymentIntent, GatewayRefundID: re,
				Amount: p, Currency: toUpperSometimes(cur, g.rnd), Status: reconcile.LedgerComplete, CreatedAt: at, CompletedAt: completed},
			r: fakestripe.Refund{ID: re, Charge: ch.ID, Amount: p, Currency: cur, Status: "succeeded",
				Metadata: map[string]string{MetadataKey: id}, Created: at.Add(time.Second), ARN: arn(g.nref)},
		})
		at = at.Add(time.Duration(1+g.rnd.IntN(96)) * time.Hour)
		if at.After(g.o.Now.Add(-time.Hour)) {
			at = g.o.Now.Add(-time.Hour)
		}
	}
	return out
}

// Ledgers write currencies in either case.
func toUpperSometimes(cur string, rnd *rand.Rand) string {
	if rnd.IntN(3) == 0 {
		return map[string]string{"usd": "USD", "eur": "EUR", "jpy": "JPY"}[cur]
	}
	return cur
}

func (g *generator) add(p pair, ledger, gateway bool) {
	if ledger {
		g.d.Ledger = append(g.d.Ledger, p.l)
	}
	if gateway {
		g.d.Refunds = append(g.d.Refunds, p.r)
	}
}

func (g *generator) generate() {
	day := 24 * time.Hour
	// Planted cases first, so their ids are stable whatever the size.
	for _, k := range reconcile.Kinds {
		for range g.o.PerKind {
			g.plant(k)
		}
	}
	// The support call: complete in the ledger five weeks ago, failed at the
	// gateway three weeks later.
	p := g.newCharge(g.o.Now.Add(-35 * day).Truncate(time.Second))[0]
	g.add(p, true, true)
	g.d.Failures = append(g.d.Failures, Failure{RefundID: p.r.ID, Reason: "expired_or_canceled_card", At: g.o.Now.Add(-14 * day).Truncate(time.Second)})
	g.d.Planted[reconcile.GatewayFailed]++
	g.d.LateFailure = p.l.CustomerID
	g.d.LateFailureEmail = Email(p.l.CustomerID)

	// The healthy bulk: some refunds lost their gateway id and are found by
	// metadata, some have neither and are paired by charge and amount.
	for len(g.d.Ledger) < g.o.Refunds {
		for _, p := range g.newCharge(g.within(89 * day)) {
			switch g.rnd.IntN(20) {
			case 0:
				p.l.GatewayRefundID = ""
			case 1:
				p.l.GatewayRefundID = ""
				p.r.Metadata = nil
			}
			g.add(p, true, true)
		}
	}
}

// plant adds one case of kind k.
func (g *generator) plant(k reconcile.Kind) {
	day := 24 * time.Hour
	p := g.newCharge(g.within(80 * day).Add(-6 * day))[0]
	g.d.Planted[k]++
	switch k {
	case reconcile.MissingAtGateway:
		g.add(p, true, false)
		return
	case reconcile.GatewayFailed:
		p.r.Status, p.r.FailureReason = "failed", failureReasons[g.rnd.IntN(len(failureReasons))]
	case reconcile.GatewayCanceled:
		p.r.Status = "canceled"
	case reconcile.DuplicateAtGateway:
		dup := p.r
		g.nref++
		dup.ID = fmt.Sprintf("re_demo%06d", g.nref)
		dup.Created = p.r.Created.Add(2 * time.Minute)
		g.d.Refunds = append(g.d.Refunds, dup)
	case reconcile.GatewayPendingTooLong:
		p.r.Status = "pending"
	case reconcile.CurrencyMismatch:
		// The ledger booked it in another currency than the charge's.
		p.l.Currency = map[string]string{"usd": "EUR", "eur": "USD", "jpy": "USD"}[p.r.Currency]
	case reconcile.AmountMismatch:
		p.r.Amount = p.l.Amount - p.l.Amount/10
		if p.r.Amount == p.l.Amount {
			p.r.Amount--
		}
	case reconcile.CustomerMismatch:
		p.l.CustomerID = fmt.Sprintf("cus_demo%05d", g.o.Customers+1+g.d.Planted[k])
	case reconcile.LedgerNotComplete:
		p.l.Status, p.l.CompletedAt = reconcile.LedgerPending, time.Time{}
	case reconcile.MissingInLedger:
		g.add(p, false, true)
		return
	case reconcile.InvalidLedgerRow:
		switch g.d.Planted[k] % 3 {
		case 1:
			p.l.Amount = 0
		case 2:
			p.l.Currency = "XBT"
		default:
			p.l.Status = "done"
		}
	}
	g.add(p, true, true)
}

// Load puts the gateway side into a fake Stripe server.
func (d *Data) Load(s *fakestripe.Server) error {
	for _, c := range d.Customers {
		if err := s.AddCustomer(c); err != nil {
			return fmt.Errorf("add customer %s: %w", c.ID, err)
		}
	}
	for _, c := range d.Charges {
		if err := s.AddCharge(c); err != nil {
			return fmt.Errorf("add charge %s: %w", c.ID, err)
		}
	}
	for _, r := range d.Refunds {
		if err := s.AddRefund(r); err != nil {
			return fmt.Errorf("add refund %s: %w", r.ID, err)
		}
	}
	for _, f := range d.Failures {
		if err := s.FailRefund(f.RefundID, f.Reason, f.At); err != nil {
			return fmt.Errorf("fail refund %s: %w", f.RefundID, err)
		}
	}
	return nil
}
