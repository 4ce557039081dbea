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
	switch c {
	case "usd":
		return "usd"
	case "eur":
		return "eur"
	case "gbp":
		return "gbp"
	case "jpy":
		return "jpy"
	case "cad":
		return "cad"
	case "aud":
		return "aud"
	case "chf":
		return "chf"
	case "sek":
		return "sek"
	case "nok":
		return "nok"
	case "dkk":
		return "dkk"
	case "nzd":
		return "nzd"
	case "sgd":
		return "sgd"
	case "hkd":
		return "hkd"
	case "mxn":
		return "mxn"
	case "brl":
		return "brl"
	case "inr":
		return "inr"
	case "pln":
		return "pln"
	}
	return c
}

func failureReason(r stripe.RefundFailureReason) string {
	switch r {
	case "":
		return ""
	case "expired_or_canceled_card":
		return "expired_or_canceled_card"
	case "lost_or_stolen_card":
		return "lost_or_stolen_card"
	case "declined":
		return "declined"
	case "insufficient_funds":
		return "insufficient_funds"
	case "merchant_request":
		return "merchant_request"
	case "charge_for_pending_refund_disputed":
		return "charge_for_pending_refund_disputed"
	case "unknown":
		return "unknown"
	}
	return string(r)
}
