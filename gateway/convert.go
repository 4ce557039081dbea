package gateway

import (
	"errors"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
)

// convert reduces a Stripe refund to reconcile's type. A nightly run converts
// up to a million refunds: it copies string headers only, and interns the
// few statuses, currencies and failure reasons so the refunds kept in memory
// share them instead of one decoded copy each.
func (s *Stripe) convert(r *stripe.Refund) (reconcile.GatewayRefund, error) {
	if r == nil || r.ID == "" {
		return reconcile.GatewayRefund{}, errors.New("stripe answered a refund without id")
	}
	g := reconcile.GatewayRefund{
		ID:             r.ID,
		Amount:         r.Amount,
		Currency:       currency(string(r.Currency)),
		Status:         status(r.Status),
		FailureReason:  failureReason(r.FailureReason),
		LedgerRefundID: r.Metadata[s.metadataKey],
		Created:        time.Unix(r.Created, 0).UTC(),
	}
	if r.PaymentIntent != nil {
		g.PaymentIntentID = r.PaymentIntent.ID
	}
	if d := r.DestinationDetails; d != nil && d.Card != nil {
		g.ARN = d.Card.Reference
	}
	if c := r.Charge; c != nil {
		g.ChargeID = c.ID
		if g.PaymentIntentID == "" && c.PaymentIntent != nil {
			g.PaymentIntentID = c.PaymentIntent.ID
		}
		if c.Customer != nil { // set only when the charge was expanded
			g.CustomerID = c.Customer.ID
		}
	}
	s.stats.refunds.Add(1)
	return g, nil
}

// convertPage is convert for a refund of a listing page (see page.go): the
// same result, with the ids, charge, payment intent, customer and metadata
// value copied into one allocation that the refund's strings share, and no
// reference to the page's body kept.
func (s *Stripe) convertPage(r *pageRefund) (reconcile.GatewayRefund, error) {
	if len(r.ID) == 0 {
		return reconcile.GatewayRefund{}, errors.New("stripe answered a refund without id")
	}
	intent := r.PaymentIntent.ID
	if !r.PaymentIntent.set {
		intent = nil
	}
	var chargeID, customer []byte
	if r.Charge.set {
		chargeID = r.Charge.ID
		if len(intent) == 0 && r.ChargePaymentIntent.set {
			intent = r.ChargePaymentIntent.ID
		}
		if r.ChargeCustomer.set {
			customer = r.ChargeCustomer.ID
		}
	}
	// One allocation for the five: a strings.Builder's String shares its
	// buffer, and substrings share it in turn.
	var b strings.Builder
	b.Grow(len(r.ID) + len(chargeID) + len(intent) + len(customer) + len(r.ARN) + len(r.Metadata))
	b.Write(r.ID)
	b.Write(chargeID)
	b.Write(intent)
	b.Write(customer)
	b.Write(r.ARN)
	b.Write(r.Metadata)
	all := b.String()
	n1 := len(r.ID)
	n2 := n1 + len(chargeID)
	n3 := n2 + len(intent)
	n4 := n3 + len(customer)
	n5 := n4 + len(r.ARN)
	g := reconcile.GatewayRefund{
		ID:              all[:n1],
		ChargeID:        all[n1:n2],
		PaymentIntentID: all[n2:n3],
		CustomerID:      all[n3:n4],
		Amount:          r.Amount,
		Currency:        currencyBytes(r.Currency),
		Status:          statusBytes(r.Status),
		FailureReason:   failureReasonBytes(r.FailureReason),
		LedgerRefundID:  all[n5:],
		Created:         time.Unix(r.Created, 0).UTC(),
		ARN:             all[n4:n5],
	}
	s.stats.refunds.Add(1)
	return g, nil
}

// statusBytes is status for text of a page, allocating only for a status
// Stripe does not document.
func statusBytes(b []byte) reconcile.GatewayStatus {
	switch string(b) {
	case "succeeded":
		return reconcile.RefundSucceeded
	case "pending":
		return reconcile.RefundPending
	case "requires_action":
		return reconcile.RefundRequiresAction
	case "failed":
		return reconcile.RefundFailed
	case "canceled":
		return reconcile.RefundCanceled
	}
	return reconcile.GatewayStatus(b)
}

// currencyBytes is currency for text of a page, allocating only for a code
// that is not lower case or not among the interned ones.
func currencyBytes(b []byte) string {
	for _, c := range b {
		if 'A' <= c && c <= 'Z' || c >= 0x80 {
			return currency(string(b))
		}
	}
	if c, ok := knownCurrency(string(b)); ok {
		return c
	}
	return string(b)
}

// failureReasonBytes is failureReason for text of a page.
func failureReasonBytes(b []byte) string {
	if r, ok := knownFailureReason(string(b)); ok {
		return r
	}
	return string(b)
}

func status(s stripe.RefundStatus) reconcile.GatewayStatus {
	switch s {
	case stripe.RefundStatusSucceeded:
		return reconcile.RefundSucceeded
	case stripe.RefundStatusPending:
		return reconcile.RefundPending
	case stripe.RefundStatusRequiresAction:
		return reconcile.RefundRequiresAction
	case stripe.RefundStatusFailed:
		return reconcile.RefundFailed
	case stripe.RefundStatusCanceled:
		return reconcile.RefundCanceled
	}
	return reconcile.GatewayStatus(s)
}

// currency returns the code in lower case, interned for the common ones.
func currency(c string) string {
	c = strings.ToLower(c) // no copy when it already is
	if k, ok := knownCurrency(c); ok {
		return k
	}
	return c
}

// knownCurrency returns the shared constant of a common lower-case code.
func knownCurrency(c string) (string, bool) {
	switch c {
	case "usd":
		return "usd", true
	case "eur":
		return "eur", true
	case "gbp":
		return "gbp", true
	case "jpy":
		return "jpy", true
	case "cad":
		return "cad", true
	case "aud":
		return "aud", true
	case "chf":
		return "chf", true
	case "sek":
		return "sek", true
	case "nok":
		return "nok", true
	case "dkk":
		return "dkk", true
	case "nzd":
		return "nzd", true
	case "sgd":
		return "sgd", true
	case "hkd":
		return "hkd", true
	case "mxn":
		return "mxn", true
	case "brl":
		return "brl", true
	case "inr":
		return "inr", true
	case "pln":
		return "pln", true
	}
	return "", false
}

func failureReason(r stripe.RefundFailureReason) string {
	if k, ok := knownFailureReason(string(r)); ok {
		return k
	}
	return string(r)
}

// knownFailureReason returns the shared constant of a documented reason.
func knownFailureReason(r string) (string, bool) {
	switch r {
	case "":
		return "", true
	case "expired_or_canceled_card":
		return "expired_or_canceled_card", true
	case "lost_or_stolen_card":
		return "lost_or_stolen_card", true
	case "declined":
		return "declined", true
	case "insufficient_funds":
		return "insufficient_funds", true
	case "merchant_request":
		return "merchant_request", true
	case "charge_for_pending_refund_disputed":
		return "charge_for_pending_refund_disputed", true
	case "unknown":
		return "unknown", true
	}
	return "", false
}
