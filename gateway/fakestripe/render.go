package fakestripe

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// JSON rendering by hand: a page of 100 refunds is rendered without
// reflection and with few allocations.

const apiVersion = "2023-10-16"

// expandable lists, per object type, the fields that may be expanded and the
// type of object they expand to.
var expandable = map[string]map[string]string{
	"refund": {
		"charge":                      "charge",
		"payment_intent":              "payment_intent",
		"balance_transaction":         "balance_transaction",
		"failure_balance_transaction": "balance_transaction",
	},
	"charge": {
		"customer":       "customer",
		"payment_intent": "payment_intent",
		"refunds":        "refund_list",
	},
	"balance_transaction": {
		"source": "refund",
	},
}

// maxExpandDepth is Stripe's limit on expansion depth.
const maxExpandDepth = 4

// checkExpand validates expansion paths relative to an object of type typ.
func checkExpand(typ string, paths []string) *apiError {
	for _, p := range paths {
		parts := strings.Split(p, ".")
		if len(parts) > maxExpandDepth {
			return &apiError{status: 400, typ: errInvalidRequest, param: "expand",
				message: "You cannot expand more than 4 levels of a property. Property: " + p}
		}
		t := typ
		for _, f := range parts {
			next, ok := expandable[t][f]
			if !ok {
				return &apiError{status: 400, typ: errInvalidRequest, param: "expand",
					message: "This property cannot be expanded (" + p + ")."}
			}
			t = next
		}
	}
	return nil
}

// sub reports whether field is expanded in exp and returns the expansion
// paths relative to it.
func sub(exp []string, field string) (bool, []string) {
	on := false
	var rest []string
	for _, p := range exp {
		if p == field {
			on = true
		} else if len(p) > len(field) && p[len(field)] == '.' && strings.HasPrefix(p, field) {
			on = true
			rest = append(rest, p[len(field)+1:])
		}
	}
	return on, rest
}

func needsEscape[T ~string | ~[]byte](s T) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			return true
		}
	}
	return false
}

// appendStr appends s as a JSON string.
func appendStr[T ~string | ~[]byte](b []byte, s T) []byte {
	if needsEscape(s) {
		q, _ := json.Marshal(string(s))
		return append(b, q...)
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// appendRef appends an arena string as a JSON string, or null when empty.
func (s *Server) appendRef(b []byte, r sref) []byte {
	if r == 0 {
		return append(b, "null"...)
	}
	return appendStr(b, s.ar.get(r))
}

func appendInt(b []byte, n int64) []byte { return strconv.AppendInt(b, n, 10) }

// appendSeqID appends prefix followed by n zero-padded to 24 digits, the
// deterministic id scheme of balance transactions and events.
func appendSeqID(b []byte, prefix string, n int32) []byte {
	b = append(b, prefix...)
	var d [24]byte
	for i := range d {
		d[i] = '0'
	}
	v := uint64(n) + 1
	for i := len(d) - 1; v > 0; i-- {
		d[i] = byte('0' + v%10)
		v /= 10
	}
	return append(b, d[:]...)
}

// parseSeqID inverts appendSeqID; it returns noElem for anything else.
func parseSeqID(id, prefix string, n int) int32 {
	rest, ok := strings.CutPrefix(id, prefix)
	if !ok || len(rest) != 24 {
		return noElem
	}
	v, err := strconv.ParseUint(rest, 10, 64)
	if err != nil || v == 0 || v > uint64(n) {
		return noElem
	}
	return int32(v - 1)
}

func appendMetadata(b []byte, m map[string]string) []byte {
	b = append(b, '{')
	for i, k := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendStr(b, k)
		b = append(b, ':')
		b = appendStr(b, m[k])
	}
	return append(b, '}')
}

// appendTxnRef appends a balance transaction as an id string, an expanded
// object, or null.
func (s *Server) appendTxnRef(b []byte, t int32, expand bool, exp []string) []byte {
	switch {
	case t == noElem:
		return append(b, "null"...)
	case expand:
		return s.appendTxn(b, t, exp)
	default:
		b = append(b, '"')
		b = appendSeqID(b, "txn_", t)
		return append(b, '"')
	}
}

func (s *Server) appendRefund(b []byte, e int32, exp []string) []byte {
	r := &s.refunds[e]
	b = append(b, `{"id":`...)
	b = s.appendRef(b, r.id)
	b = append(b, `,"object":"refund","amount":`...)
	b = appendInt(b, r.amount)
	b = append(b, `,"balance_transaction":`...)
	on, rest := sub(exp, "balance_transaction")
	b = s.appendTxnRef(b, r.txn, on, rest)
	b = append(b, `,"charge":`...)
	switch on, rest := sub(exp, "charge"); {
	case r.charge == noElem:
		b = append(b, "null"...)
	case on:
		b = s.appendCharge(b, r.charge, rest)
	default:
		b = s.appendRef(b, s.charges[r.charge].id)
	}
	b = append(b, `,"created":`...)
	b = appendInt(b, r.created)
	b = append(b, `,"currency":`...)
	b = appendStr(b, s.currencies.name(r.currency))
	b = append(b, `,"destination_details":`...)
	b = s.appendDestination(b, e)
	if r.status == stFailed {
		b = append(b, `,"failure_balance_transaction":`...)
		on, rest := sub(exp, "failure_balance_transaction")
		b = s.appendTxnRef(b, r.failTxn, on, rest)
		b = append(b, `,"failure_reason":`...)
		b = appendStr(b, s.reasons.name(r.reason))
	}
	b = append(b, `,"metadata":`...)
	if r.meta != 0 {
		b = appendMetadata(b, s.metas[r.meta])
	} else {
		b = append(b, "{}"...)
	}
	b = append(b, `,"payment_intent":`...)
	if on, _ := sub(exp, "payment_intent"); on && r.pi != 0 {
		b = s.appendPaymentIntent(b, r.pi, r.charge)
	} else {
		b = s.appendRef(b, r.pi)
	}
	b = append(b, `,"reason":null,"receipt_number":null,"source_transfer_reversal":null,"status":"`...)
	b = append(b, statusNames[r.status]...)
	b = append(b, `","transfer_reversal":null}`...)
	return b
}

func (s *Server) appendCharge(b []byte, e int32, exp []string) []byte {
	c := &s.charges[e]
	refunded := s.refundedAmount(e)
	b = append(b, `{"id":`...)
	b = s.appendRef(b, c.id)
	b = append(b, `,"object":"charge","amount":`...)
	b = appendInt(b, c.amount)
	b = append(b, `,"amount_captured":`...)
	b = appendInt(b, c.amount)
	b = append(b, `,"amount_refunded":`...)
	b = appendInt(b, refunded)
	b = append(b, `,"captured":true,"created":`...)
	b = appendInt(b, c.created)
	b = append(b, `,"currency":`...)
	b = appendStr(b, s.currencies.name(c.currency))
	b = append(b, `,"customer":`...)
	if on, _ := sub(exp, "customer"); on && c.customer != 0 {
		b = append(b, `{"id":`...)
		b = s.appendRef(b, c.customer)
		b = append(b, `,"object":"customer","livemode":false,"metadata":{}}`...)
	} else {
		b = s.appendRef(b, c.customer)
	}
	b = append(b, `,"livemode":false,"metadata":{},"paid":true,"payment_intent":`...)
	if on, _ := sub(exp, "payment_intent"); on && c.pi != 0 {
		b = s.appendPaymentIntent(b, c.pi, e)
	} else {
		b = s.appendRef(b, c.pi)
	}
	b = append(b, `,"refunded":`...)
	b = strconv.AppendBool(b, refunded >= c.amount)
	if on, _ := sub(exp, "refunds"); on {
		b = append(b, `,"refunds":`...)
		b = s.appendChargeRefunds(b, e)
	}
	b = append(b, `,"status":"succeeded"}`...)
	return b
}

// appendPaymentIntent renders a minimal payment intent object.
func (s *Server) appendPaymentIntent(b []byte, pi sref, ch int32) []byte {
	b = append(b, `{"id":`...)
	b = s.appendRef(b, pi)
	b = append(b, `,"object":"payment_intent"`...)
	if ch != noElem {
		c := &s.charges[ch]
		b = append(b, `,"amount":`...)
		b = appendInt(b, c.amount)
		b = append(b, `,"currency":`...)
		b = appendStr(b, s.currencies.name(c.currency))
		b = append(b, `,"customer":`...)
		b = s.appendRef(b, c.customer)
		b = append(b, `,"latest_charge":`...)
		b = s.appendRef(b, c.id)
		b = append(b, `,"status":"succeeded"`...)
	}
	return append(b, `,"livemode":false,"metadata":{}}`...)
}

func (s *Server) appendTxn(b []byte, t int32, exp []string) []byte {
	x := &s.txns[t]
	r := &s.refunds[x.refund]
	amount := -r.amount
	if x.typ == txnRefundFailure {
		amount = r.amount
	}
	typ := txnTypeNames[x.typ]
	b = append(b, `{"id":"`...)
	b = appendSeqID(b, "txn_", t)
	b = append(b, `","object":"balance_transaction","amount":`...)
	b = appendInt(b, amount)
	b = append(b, `,"available_on":`...)
	b = appendInt(b, x.created)
	b = append(b, `,"created":`...)
	b = appendInt(b, x.created)
	b = append(b, `,"currency":`...)
	b = appendStr(b, s.currencies.name(r.currency))
	b = append(b, `,"description":null,"exchange_rate":null,"fee":0,"fee_details":[],"net":`...)
	b = appendInt(b, amount)
	b = append(b, `,"reporting_category":"`...)
	b = append(b, typ...)
	b = append(b, `","source":`...)
	if on, rest := sub(exp, "source"); on {
		b = s.appendRefund(b, x.refund, rest)
	} else {
		b = s.appendRef(b, r.id)
	}
	b = append(b, `,"status":"available","type":"`...)
	b = append(b, typ...)
	return append(b, `"}`...)
}

func (s *Server) appendEvent(b []byte, n int32, _ []string) []byte {
	ev := &s.events[n]
	b = append(b, `{"id":"`...)
	b = appendSeqID(b, "evt_", n)
	b = append(b, `","object":"event","api_version":"`+apiVersion+`","created":`...)
	b = appendInt(b, ev.created)
	b = append(b, `,"data":{"object":`...)
	b = append(b, ev.object...)
	b = append(b, `,"previous_attributes":`...)
	if ev.prev == nil {
		b = append(b, `{}`...)
	} else {
		b = append(b, ev.prev...)
	}
	b = append(b, `},"livemode":false,"pending_webhooks":0,"request":{"id":null,"idempotency_key":null},"type":`...)
	b = appendStr(b, ev.typ)
	return append(b, '}')
}
