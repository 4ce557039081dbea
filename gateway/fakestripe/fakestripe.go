// Package fakestripe is a stateful in-memory fake of the read-only Stripe API
// (refunds, charges, balance transactions and events) served over HTTP, for
// tests and the demo; it must not import other refundrecon packages.
//
// The fake speaks the wire format of the real API closely enough that the
// unmodified stripe-go v76 client, pointed at an httptest server wrapping a
// Server, works against it: list pagination (starting_after / ending_before /
// has_more), created range filters, expansions such as data.charge, Stripe
// error bodies and status codes. Only GET is answered; any other method gets
// a 405 so tests can prove a caller is read-only (see Requests). Faults such as
// rate limiting, 5xx answers, malformed bodies, delays and a cursor that never
// advances can be injected with InjectFault.
//
// Storage is compact and pointer free so that a million refunds fit in well
// under 300 MB: strings live in a chunked byte arena, lookups use
// open-addressing hash indexes of int32 element numbers, and every list is
// served from a timeline sorted lazily (once, before the first list after a
// batch of inserts) by created time, so a list request costs O(log n + page).
//
// Lists are ordered newest first by created; objects with equal created times
// are ordered by insertion, the later-inserted first.
package fakestripe

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"
)

// Charge is a charge to load into the fake with AddCharge.
type Charge struct {
	// ID is the charge id ("ch_..."); required and unique.
	ID string
	// Customer is the customer id ("cus_..."), or "" for none; it need not
	// name a customer added with AddCustomer.
	Customer string
	// PaymentIntent is the payment intent id ("pi_..."), or "" for none.
	PaymentIntent string
	// Amount is the charged amount in minor units; must be positive.
	Amount int64
	// Currency is the ISO currency code; it is lowercased, "" means "usd".
	Currency string
	// Created is the creation time (second precision); zero means now.
	Created time.Time
}

// Refund is a refund to load into the fake with AddRefund, and the value
// returned by Server.Refund.
type Refund struct {
	// ID is the refund id ("re_..."); required and unique.
	ID string
	// Charge is the refunded charge id. It must name a charge already added,
	// unless it is "" and PaymentIntent is given.
	Charge string
	// PaymentIntent defaults to the charge's payment intent. When only
	// PaymentIntent is given, the refund is linked to the latest added charge
	// with that payment intent, if any.
	PaymentIntent string
	// Amount in minor units; 0 means the charge's not yet refunded remainder.
	Amount int64
	// Currency defaults to the charge's currency and is lowercased.
	Currency string
	// Status is one of pending, requires_action, succeeded, failed,
	// canceled; "" means succeeded.
	Status string
	// FailureReason is only allowed with Status "failed"; it defaults to
	// "unknown" there.
	FailureReason string
	// Metadata is copied; nil or empty means none.
	Metadata map[string]string
	// Created is the creation time (second precision); zero means now.
	Created time.Time
	// ARN is the card network's reference of the refund
	// (destination_details.card.reference), "" for none; see also
	// SetRefundARN.
	ARN string
}

// Refund statuses, as Stripe spells them.
const (
	StatusPending        = "pending"
	StatusRequiresAction = "requires_action"
	StatusSucceeded      = "succeeded"
	StatusFailed         = "failed"
	StatusCanceled       = "canceled"
)

var statusNames = [...]string{StatusPending, StatusRequiresAction, StatusSucceeded, StatusFailed, StatusCanceled}

const (
	stPending uint8 = iota
	stRequiresAction
	stSucceeded
	stFailed
	stCanceled
)

func parseStatus(s string) (uint8, bool) {
	for i, n := range statusNames {
		if n == s {
			return uint8(i), true
		}
	}
	return 0, false
}

// Balance transaction types produced by the fake.
const (
	txnRefund uint8 = iota
	txnRefundFailure
	numTxnTypes
)

var txnTypeNames = [numTxnTypes]string{"refund", "refund_failure"}

// charge, refund and txn are the stored forms: fixed size, no pointers.
type charge struct {
	id, pi, customer sref
	amount, created  int64
	firstRefund      int32 // head of the chain of refunds of this charge
	nextPI, nextCust int32 // chains of charges sharing a payment intent / customer
	currency         uint16
}

type refund struct {
	id, pi          sref
	amount, created int64
	charge          int32 // noElem when the refund has only a payment intent
	next            int32 // next refund of the same charge (or same PI when charge is noElem)
	txn, failTxn    int32 // balance transactions, noElem when none
	meta            int32 // index into Server.metas, 0 = no metadata
	currency        uint16
	reason          uint16 // index into Server.reasons, 0 = none
	status          uint8
}

type txn struct {
	created int64
	refund  int32
	typ     uint8
}

// event is a stored event; events are rare (one pair per status change), so
// they keep a pre-rendered snapshot of the refund.
type event struct {
	created int64
	typ     string
	object  []byte // JSON of the refund at the time of the event
	prev    []byte // JSON of previous_attributes; nil: {}
}

// interner maps a small set of strings (currencies, failure reasons) to
// uint16 codes. Code 0 is "".
type interner struct {
	names []string
	codes map[string]uint16
}

func (in *interner) code(s string) (uint16, error) {
	if c, ok := in.codes[s]; ok {
		return c, nil
	}
	if in.codes == nil {
		in.names = []string{""}
		in.codes = map[string]uint16{"": 0}
		if s == "" {
			return 0, nil
		}
	}
	if len(in.names) > 0xffff {
		return 0, errors.New("fakestripe: too many distinct values")
	}
	c := uint16(len(in.names))
	in.names = append(in.names, s)
	in.codes[s] = c
	return c, nil
}

func (in *interner) name(c uint16) string {
	if int(c) >= len(in.names) {
		return ""
	}
	return in.names[c]
}

// Server is the fake Stripe API. It is an http.Handler and is safe for
// concurrent use; data may be added while requests are being served.
type Server struct {
	apiKey string

	mu      sync.RWMutex
	ar      arena
	charges []charge
	refunds []refund
	txns    []txn
	events  []event
	metas   []map[string]string // metas[0] is unused (no metadata)

	chargeByID, refundByID  hindex
	chargeByPI, chargeByCus hindex // chain heads: charge.nextPI / charge.nextCust
	orphanByPI              hindex // chain heads of refunds without charge: refund.next

	chargeTL, refundTL, txnTL, eventTL timeline
	txnTypeTL                          [numTxnTypes]timeline

	currencies, reasons interner

	customers    []customer
	customerByID map[string]int32
	customerTL   timeline
	arns         map[int32]string // refund -> its card network reference

	logMu  sync.Mutex
	reqs   []Request
	faults []Fault
	reqSeq uint64
	logGen uint64

	kinds kinds // list/retrieve descriptions, built by New

	// Event and rate-limit options: see sync.go.
	eventsOff, createEvents bool
	limitMu                 sync.Mutex
	limits                  *limits
}

// New returns an empty fake that accepts apiKey (as a Bearer token or as the
// HTTP basic auth user). An empty apiKey accepts any key, or none.
func New(apiKey string) *Server {
	s := &Server{apiKey: apiKey, metas: make([]map[string]string, 1)}
	s.kinds = s.newKinds()
	return s
}

func unix(t time.Time) int64 {
	if t.IsZero() {
		return time.Now().Unix()
	}
	return t.Unix()
}

func checkID(kind, id string) error {
	if id == "" {
		return fmt.Errorf("fakestripe: %s ID is required", kind)
	}
	if len(id) > maxStrLen || strings.ContainsAny(id, "/?#") {
		return fmt.Errorf("fakestripe: invalid %s ID %q", kind, id)
	}
	return nil
}

func checkStr(what, s string) error {
	if len(s) > maxStrLen {
		return fmt.Errorf("fakestripe: %s too long", what)
	}
	return nil
}

func (s *Server) chargeIndex(id string) int32 {
	_, e := s.chargeByID.find(hashOf(id), func(e int32) bool { return s.ar.eq(s.charges[e].id, id) })
	return e
}

func (s *Server) refundIndex(id string) int32 {
	_, e := s.refundByID.find(hashOf(id), func(e int32) bool { return s.ar.eq(s.refunds[e].id, id) })
	return e
}

// chargesWithPI returns the head of the chain of charges with payment intent pi.
func (s *Server) chargesWithPI(pi string) int32 {
	_, e := s.chargeByPI.find(hashOf(pi), func(e int32) bool { return s.ar.eq(s.charges[e].pi, pi) })
	return e
}

func (s *Server) chargesOfCustomer(cus string) int32 {
	_, e := s.chargeByCus.find(hashOf(cus), func(e int32) bool { return s.ar.eq(s.charges[e].customer, cus) })
	return e
}

func (s *Server) orphansWithPI(pi string) int32 {
	_, e := s.orphanByPI.find(hashOf(pi), func(e int32) bool { return s.ar.eq(s.refunds[e].pi, pi) })
	return e
}

// AddCharge adds a charge. The ID is required and must be unique.
func (s *Server) AddCharge(c Charge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addCharge(c)
}

// AddCharges adds many charges under one lock, growing storage once. It stops
// at the first invalid charge; the charges before it stay added.
func (s *Server) AddCharges(cs []Charge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.charges = growCap(s.charges, len(cs))
	s.chargeTL.grow(len(cs))
	s.chargeByID.reserve(len(cs))
	withPI := 0
	for i := range cs {
		if cs[i].PaymentIntent != "" {
			withPI++
		}
	}
	s.chargeByPI.reserve(withPI)
	for i, c := range cs {
		if err := s.addCharge(c); err != nil {
			return fmt.Errorf("charge %d: %w", i, err)
		}
	}
	return nil
}

// growCap makes room for extra more elements. A batch of at least a quarter
// of the current length gets exactly the room it needs (that is already
// geometric growth); smaller ones grow like append. Either way repeated bulk
// loads stay amortised O(1) per element.
func growCap[S ~[]E, E any](s S, extra int) S {
	if cap(s)-len(s) >= extra || extra < len(s)/4 {
		return slices.Grow(s, extra)
	}
	n := make(S, len(s), len(s)+extra)
	copy(n, s)
	return n
}

// Reserve preallocates room for that many more charges and refunds (and the
// refunds' balance transactions), so that a large data set loaded in several
// AddCharges/AddRefunds batches needs no reallocation and carries no slack.
// It is only an optimisation.
func (s *Server) Reserve(charges, refunds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.charges = growCap(s.charges, charges)
	s.chargeTL.grow(charges)
	s.chargeByID.reserve(charges)
	s.refunds = growCap(s.refunds, refunds)
	s.txns = growCap(s.txns, refunds)
	s.refundTL.grow(refunds)
	s.txnTL.grow(refunds)
	s.txnTypeTL[txnRefund].grow(refunds)
	s.refundByID.reserve(refunds)
}

func (s *Server) addCharge(c Charge) error {
	if err := checkID("charge", c.ID); err != nil {
		return err
	}
	if err := errors.Join(checkStr("customer", c.Customer), checkStr("payment intent", c.PaymentIntent)); err != nil {
		return err
	}
	if c.Amount <= 0 {
		return fmt.Errorf("fakestripe: charge %s: amount must be positive", c.ID)
	}
	if len(s.charges) >= maxElements {
		return errors.New("fakestripe: too many charges")
	}
	cur := strings.ToLower(c.Currency)
	if cur == "" {
		cur = "usd"
	}
	code, err := s.currencies.code(cur)
	if err != nil {
		return err
	}
	s.chargeByID.reserve(1)
	idHash := hashOf(c.ID)
	slot, dup := s.chargeByID.find(idHash, func(e int32) bool { return s.ar.eq(s.charges[e].id, c.ID) })
	if dup != noElem {
		return fmt.Errorf("fakestripe: duplicate charge ID %s", c.ID)
	}
	e := int32(len(s.charges))
	s.charges = append(s.charges, charge{
		id:          s.ar.put(c.ID),
		amount:      c.Amount,
		created:     unix(c.Created),
		firstRefund: noElem,
		nextPI:      noElem,
		nextCust:    noElem,
		currency:    code,
	})
	s.chargeByID.set(slot, e, idHash, true)
	// Charges sharing a payment intent or a customer are chained from the
	// index; a repeated value reuses the arena copy of the chain head.
	if c.PaymentIntent != "" {
		s.chargeByPI.reserve(1)
		h := hashOf(c.PaymentIntent)
		slot, head := s.chargeByPI.find(h, func(x int32) bool { return s.ar.eq(s.charges[x].pi, c.PaymentIntent) })
		ch := &s.charges[e]
		if head != noElem {
			ch.pi = s.charges[head].pi
		} else {
			ch.pi = s.ar.put(c.PaymentIntent)
		}
		ch.nextPI = head
		s.chargeByPI.set(slot, e, h, head == noElem)
	}
	if c.Customer != "" {
		s.chargeByCus.reserve(1)
		h := hashOf(c.Customer)
		slot, head := s.chargeByCus.find(h, func(x int32) bool { return s.ar.eq(s.charges[x].customer, c.Customer) })
		ch := &s.charges[e]
		if head != noElem {
			ch.customer = s.charges[head].customer
		} else {
			ch.customer = s.ar.put(c.Customer)
		}
		ch.nextCust = head
		s.chargeByCus.set(slot, e, h, head == noElem)
	}
	s.chargeTL.add(e)
	return nil
}

// AddRefund adds a refund. The ID is required and must be unique. The charge
// must exist unless only PaymentIntent is given; PaymentIntent and Currency
// default from the charge (a mismatch is an error); Status defaults to
// succeeded. A pending, succeeded or failed refund gets a balance transaction
// of type "refund" at Created; a failed one also gets a "refund_failure"
// balance transaction at Created and FailureReason defaults to "unknown".
// Refunds in requires_action or canceled get no balance transaction.
// Over-refunding a charge is not rejected (it is useful test data).
func (s *Server) AddRefund(r Refund) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addRefund(r)
}

// AddRefunds adds many refunds under one lock, growing storage once; it is
// the bulk loader for large data sets. It stops at the first invalid refund;
// the refunds before it stay added.
func (s *Server) AddRefunds(rs []Refund) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refunds = growCap(s.refunds, len(rs))
	s.txns = growCap(s.txns, len(rs))
	s.refundTL.grow(len(rs))
	s.txnTL.grow(len(rs))
	s.refundByID.reserve(len(rs))
	for i, r := range rs {
		if err := s.addRefund(r); err != nil {
			return fmt.Errorf("refund %d: %w", i, err)
		}
	}
	return nil
}

func (s *Server) addRefund(r Refund) error {
	if err := checkID("refund", r.ID); err != nil {
		return err
	}
	if err := errors.Join(checkStr("payment intent", r.PaymentIntent), checkStr("failure reason", r.FailureReason)); err != nil {
		return err
	}
	if len(s.refunds) >= maxElements || len(s.txns) >= maxElements-2 {
		return errors.New("fakestripe: too many refunds")
	}
	status := stSucceeded
	if r.Status != "" {
		var ok bool
		if status, ok = parseStatus(r.Status); !ok {
			return fmt.Errorf("fakestripe: refund %s: unknown status %q", r.ID, r.Status)
		}
	}
	reason := r.FailureReason
	if status == stFailed && reason == "" {
		reason = "unknown"
	}
	if status != stFailed && reason != "" {
		return fmt.Errorf("fakestripe: refund %s: FailureReason set but status is %s", r.ID, statusNames[status])
	}
	if r.Amount < 0 {
		return fmt.Errorf("fakestripe: refund %s: negative amount", r.ID)
	}

	ch := noElem
	switch {
	case r.Charge != "":
		if ch = s.chargeIndex(r.Charge); ch == noElem {
			return fmt.Errorf("fakestripe: refund %s: no such charge %s", r.ID, r.Charge)
		}
	case r.PaymentIntent != "":
		ch = s.chargesWithPI(r.PaymentIntent) // latest added charge of the PI, or none
	default:
		return fmt.Errorf("fakestripe: refund %s: Charge or PaymentIntent is required", r.ID)
	}

	cur := strings.ToLower(r.Currency)
	var pi sref
	amount := r.Amount
	if ch != noElem {
		c := &s.charges[ch]
		ccur := s.currencies.name(c.currency)
		if cur == "" {
			cur = ccur
		} else if cur != ccur {
			return fmt.Errorf("fakestripe: refund %s: currency %s differs from charge currency %s", r.ID, cur, ccur)
		}
		if r.PaymentIntent != "" && !s.ar.eq(c.pi, r.PaymentIntent) {
			return fmt.Errorf("fakestripe: refund %s: payment intent %s differs from the charge's %q", r.ID, r.PaymentIntent, s.ar.str(c.pi))
		}
		pi = c.pi
		if amount == 0 {
			amount = c.amount - s.refundedAmount(ch)
			if amount <= 0 {
				return fmt.Errorf("fakestripe: refund %s: charge %s is already fully refunded", r.ID, r.Charge)
			}
		}
	} else {
		if amount == 0 {
			return fmt.Errorf("fakestripe: refund %s: Amount is required without a charge", r.ID)
		}
		if cur == "" {
			cur = "usd"
		}
		pi = s.ar.put(r.PaymentIntent)
	}
	curCode, err := s.currencies.code(cur)
	if err != nil {
		return err
	}
	reasonCode, err := s.reasons.code(reason)
	if err != nil {
		return err
	}

	s.refundByID.reserve(1)
	idHash := hashOf(r.ID)
	slot, dup := s.refundByID.find(idHash, func(e int32) bool { return s.ar.eq(s.refunds[e].id, r.ID) })
	if dup != noElem {
		return fmt.Errorf("fakestripe: duplicate refund ID %s", r.ID)
	}
	e := int32(len(s.refunds))
	created := unix(r.Created)
	rf := refund{
		id:       s.ar.put(r.ID),
		pi:       pi,
		amount:   amount,
		created:  created,
		charge:   ch,
		next:     noElem,
		txn:      noElem,
		failTxn:  noElem,
		currency: curCode,
		reason:   reasonCode,
		status:   status,
	}
	if len(r.Metadata) > 0 {
		rf.meta = int32(len(s.metas))
		s.metas = append(s.metas, maps.Clone(r.Metadata))
	}
	s.refunds = append(s.refunds, rf)
	s.refundByID.set(slot, e, idHash, true)
	if r.ARN != "" {
		if s.arns == nil {
			s.arns = map[int32]string{}
		}
		s.arns[e] = r.ARN
	}
	if ch != noElem {
		s.refunds[e].next = s.charges[ch].firstRefund
		s.charges[ch].firstRefund = e
	} else {
		s.orphanByPI.reserve(1)
		h := hashOf(r.PaymentIntent)
		slot, head := s.orphanByPI.find(h, func(x int32) bool { return s.ar.eq(s.refunds[x].pi, r.PaymentIntent) })
		s.refunds[e].next = head
		s.orphanByPI.set(slot, e, h, head == noElem)
	}
	s.refundTL.add(e)
	switch status {
	case stPending, stSucceeded:
		s.refunds[e].txn = s.addTxn(txnRefund, e, created)
	case stFailed:
		s.refunds[e].txn = s.addTxn(txnRefund, e, created)
		s.refunds[e].failTxn = s.addTxn(txnRefundFailure, e, created)
	}
	if s.createEvents {
		s.addRefundEvents(e, created, nil, "refund.created")
	}
	return nil
}

func (s *Server) addTxn(typ uint8, refund int32, created int64) int32 {
	t := int32(len(s.txns))
	s.txns = append(s.txns, txn{created: created, refund: refund, typ: typ})
	s.txnTL.add(t)
	s.txnTypeTL[typ].add(t)
	return t
}

// refundedAmount is the sum of the charge's pending and succeeded refunds.
func (s *Server) refundedAmount(ch int32) int64 {
	var sum int64
	for e := s.charges[ch].firstRefund; e != noElem; e = s.refunds[e].next {
		if st := s.refunds[e].status; st == stSucceeded || st == stPending {
			sum += s.refunds[e].amount
		}
	}
	return sum
}

// FailRefund marks a pending, succeeded or requires_action refund as failed
// with the given failure reason ("" means "unknown"). A refund that had a
// "refund" balance transaction gets a "refund_failure" balance transaction
// created at `at` with the refund as source, and the events
// charge.refund.updated and refund.updated are created at `at` with
// previous_attributes.status set to the old status. A zero `at` means now.
func (s *Server) FailRefund(id, reason string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failRefund(id, reason, at)
}

func (s *Server) failRefund(id, reason string, at time.Time) error {
	e := s.refundIndex(id)
	if e == noElem {
		return fmt.Errorf("fakestripe: no such refund %s", id)
	}
	r := &s.refunds[e]
	if r.status == stFailed || r.status == stCanceled {
		return fmt.Errorf("fakestripe: refund %s is already %s", id, statusNames[r.status])
	}
	if reason == "" {
		reason = "unknown"
	}
	if err := checkStr("failure reason", reason); err != nil {
		return err
	}
	code, err := s.reasons.code(reason)
	if err != nil {
		return err
	}
	ts := unix(at)
	prev := r.status
	r.status = stFailed
	r.reason = code
	if r.txn != noElem {
		r.failTxn = s.addTxn(txnRefundFailure, e, ts)
	}
	s.addStatusEvents(e, prev, ts)
	return nil
}

// SetRefundStatus moves a refund to status (pending, requires_action,
// succeeded or canceled) at time `at` and creates the events
// charge.refund.updated and refund.updated at `at`, whose
// previous_attributes.status is the old status. A refund entering pending or
// succeeded without a balance transaction gets a "refund" one at `at`.
// Status "failed" is handled like FailRefund(id, "unknown", at). Failed and
// canceled refunds are final, and setting the current status is an error.
func (s *Server) SetRefundStatus(id, status string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := parseStatus(status)
	if !ok {
		return fmt.Errorf("fakestripe: unknown refund status %q", status)
	}
	if st == stFailed {
		return s.failRefund(id, "", at)
	}
	e := s.refundIndex(id)
	if e == noElem {
		return fmt.Errorf("fakestripe: no such refund %s", id)
	}
	r := &s.refunds[e]
	if r.status == stFailed || r.status == stCanceled {
		return fmt.Errorf("fakestripe: refund %s is already %s", id, statusNames[r.status])
	}
	if r.status == st {
		return fmt.Errorf("fakestripe: refund %s is already %s", id, status)
	}
	ts := unix(at)
	prev := r.status
	r.status = st
	if (st == stPending || st == stSucceeded) && r.txn == noElem {
		r.txn = s.addTxn(txnRefund, e, ts)
	}
	s.addStatusEvents(e, prev, ts)
	return nil
}

func (s *Server) addStatusEvents(e int32, prev uint8, ts int64) {
	p := appendStr([]byte(`{"status":`), statusNames[prev])
	p = append(p, '}')
	types := []string{"charge.refund.updated", "refund.updated"}
	if s.refunds[e].status == stFailed {
		types = append(types, "refund.failed")
	}
	s.addRefundEvents(e, ts, p, types...)
}

// Refund returns the current state of the refund with the given id.
func (s *Server) Refund(id string) (Refund, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.refundIndex(id)
	if e == noElem {
		return Refund{}, false
	}
	r := &s.refunds[e]
	out := Refund{
		ID:            s.ar.str(r.id),
		PaymentIntent: s.ar.str(r.pi),
		Amount:        r.amount,
		Currency:      s.currencies.name(r.currency),
		Status:        statusNames[r.status],
		FailureReason: s.reasons.name(r.reason),
		Created:       time.Unix(r.created, 0).UTC(),
	}
	if r.charge != noElem {
		out.Charge = s.ar.str(s.charges[r.charge].id)
	}
	if r.meta != 0 {
		out.Metadata = maps.Clone(s.metas[r.meta])
	}
	return out, true
}

// Charge returns the charge with the given id as it was added (with Currency
// lowercased and defaulted).
func (s *Server) Charge(id string) (Charge, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	e := s.chargeIndex(id)
	if e == noElem {
		return Charge{}, false
	}
	c := &s.charges[e]
	return Charge{
		ID:            s.ar.str(c.id),
		Customer:      s.ar.str(c.customer),
		PaymentIntent: s.ar.str(c.pi),
		Amount:        c.amount,
		Currency:      s.currencies.name(c.currency),
		Created:       time.Unix(c.created, 0).UTC(),
	}, true
}

// Len returns the number of charges, refunds, balance transactions and
// events held.
func (s *Server) Len() (charges, refunds, balanceTransactions, events int) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.charges), len(s.refunds), len(s.txns), len(s.events)
}

// created accessors for the timelines.
func (s *Server) chargeCreated(e int32) int64 { return s.charges[e].created }
func (s *Server) refundCreated(e int32) int64 { return s.refunds[e].created }
func (s *Server) txnCreated(e int32) int64    { return s.txns[e].created }
func (s *Server) eventCreated(e int32) int64  { return s.events[e].created }

func (s *Server) dirty() bool {
	if s.chargeTL.dirty() || s.refundTL.dirty() || s.txnTL.dirty() || s.eventTL.dirty() || s.customerTL.dirty() {
		return true
	}
	for i := range s.txnTypeTL {
		if s.txnTypeTL[i].dirty() {
			return true
		}
	}
	return false
}

// rlockSorted takes the read lock with every timeline sorted, sorting under
// the write lock first when inserts happened since the last sort.
func (s *Server) rlockSorted() {
	for {
		s.mu.RLock()
		if !s.dirty() {
			return
		}
		s.mu.RUnlock()
		s.mu.Lock()
		s.chargeTL.sort(s.chargeCreated)
		s.refundTL.sort(s.refundCreated)
		s.txnTL.sort(s.txnCreated)
		s.eventTL.sort(s.eventCreated)
		s.customerTL.sort(s.customerCreated)
		for i := range s.txnTypeTL {
			s.txnTypeTL[i].sort(s.txnCreated)
		}
		s.mu.Unlock()
	}
}

// Prepare sorts the internal indexes now instead of on the first list
// request after inserts (useful before timing list requests).
func (s *Server) Prepare() {
	s.rlockSorted()
	s.mu.RUnlock()
}
