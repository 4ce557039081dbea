package reconcile

import (
	"context"
	"time"
)

// LedgerQuery selects ledger refunds.
//
// Without keys it selects the rows completed or created inside [Since,
// Until] (a zero Since means the whole history, a zero Until no upper
// bound), of CustomerID when set.
// With any key set it selects, of any date and any customer, the rows whose
// id is in IDs, or whose gateway_refund_id, charge_id or payment_intent_id
// is in the matching list: the look-ups that find the ledger side of a
// gateway refund outside the window.
type LedgerQuery struct {
	Since, Until     time.Time
	CustomerID       string
	IDs              []string
	GatewayRefundIDs []string
	ChargeIDs        []string
	PaymentIntentIDs []string
}

// Keyed reports whether the query is a look-up by keys.
func (q LedgerQuery) Keyed() bool {
	return len(q.IDs)+len(q.GatewayRefundIDs)+len(q.ChargeIDs)+len(q.PaymentIntentIDs) > 0
}

// Ledger reads the ledger. A query that lacks a required column fails with
// an error wrapping ErrConfig that names the column. A row whose values break
// the column rules is still passed to fn: finding bad rows is the
// reconciler's job.
type Ledger interface {
	Refunds(ctx context.Context, q LedgerQuery, fn func(LedgerRefund) error) error
}

// Gateway reads the payment gateway's refunds. Every method either returns
// everything asked for or an error: a listing that did not finish must never
// look like an empty one. Callbacks are never called concurrently.
type Gateway interface {
	// Refunds lists every refund created inside [since, until].
	Refunds(ctx context.Context, since, until time.Time, fn func(GatewayRefund) error) error
	// Refund looks one refund up by id; ErrNotFound when there is none.
	Refund(ctx context.Context, id string) (GatewayRefund, error)
	// ChargeRefunds lists every refund of a charge, whatever its status.
	ChargeRefunds(ctx context.Context, chargeID string) ([]GatewayRefund, error)
	// PaymentIntentRefunds lists every refund of a payment intent.
	PaymentIntentRefunds(ctx context.Context, paymentIntentID string) ([]GatewayRefund, error)
	// RefundFailures lists the refund failures recorded inside [since, until].
	RefundFailures(ctx context.Context, since, until time.Time, fn func(RefundFailure) error) error
	// CustomerRefunds lists every charge of a customer and every refund of
	// those charges, whatever its status, in as few requests as it can.
	CustomerRefunds(ctx context.Context, customerID string) (charges []string, refunds []GatewayRefund, err error)
}

// Store keeps runs and discrepancies.
type Store interface {
	// StartRun records a run as running.
	StartRun(ctx context.Context, run Run) error
	// OpenDiscrepancies returns the discrepancies not resolved (open or
	// acknowledged), of one customer when customerID is not empty.
	OpenDiscrepancies(ctx context.Context, customerID string) ([]Discrepancy, error)
	// FinishRun records, in one transaction, a finished run and the
	// changes Decide makes of the stored cases of the subjects involved,
	// what the run found, and the subjects it judged (subject → reason, see
	// Decide). It checks run.Fence in that transaction and records nothing,
	// failing with an error wrapping ErrFenced, when the fence no longer
	// holds or the run is no longer recorded running.
	FinishRun(ctx context.Context, run Run, found []Discrepancy, judged map[string]string) (Changes, error)
	// FailRun records a run that did not finish; no discrepancy changes.
	FailRun(ctx context.Context, run Run) error
}
