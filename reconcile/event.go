package reconcile

import "time"

// RefundEvent is the gateway telling that one refund changed (a Stripe
// webhook's charge.refund.updated, refund.updated or refund.failed), reduced
// at the adapter's boundary to what a re-check of the refund's customer
// needs. The event only says where to look: the re-check reads the gateway
// again, so an event arriving late, twice or out of order changes nothing by
// itself.
type RefundEvent struct {
	// ID is the gateway's event id (evt_…).
	ID string
	// Type is the gateway's event type, e.g. "charge.refund.updated".
	Type     string
	RefundID string
	// ChargeID and PaymentIntentID are the refunded charge and payment
	// intent, when the event names them.
	ChargeID        string
	PaymentIntentID string
	// CustomerID is the customer of the refunded charge when the event
	// carries it (an expanded charge); empty otherwise, and then looked up.
	CustomerID string
	// Status is the refund's status as of the event.
	Status  GatewayStatus
	Created time.Time
}
