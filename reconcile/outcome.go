package reconcile

import "time"

// RefundOutcome is one refund of a customer check as judged: a ledger
// refund with the gateway refunds matched to it, or a gateway refund no
// ledger refund matched. It is what the verdict a support agent reads out is
// made of: both sides' dates and states, and the case, if any.
type RefundOutcome struct {
	// Ledger is the ledger's row; the zero value for a gateway refund no
	// ledger refund matched.
	Ledger LedgerRefund
	// HasLedger tells a ledger refund from an unmatched gateway refund.
	HasLedger bool
	// Gateway lists the matched gateway refunds (or the unmatched one), the
	// one the ledger refund is judged against first.
	Gateway []GatewayRefund
	// DiscrepancyID is the case this refund makes, empty when it is fine.
	DiscrepancyID string
}

// outcomeOf builds the outcome of a ledger refund; matched index gateway.
func outcomeOf(l *LedgerRefund, gateway []GatewayRefund, matched []int32, d Discrepancy, isCase bool) RefundOutcome {
	o := RefundOutcome{Ledger: *l, HasLedger: true}
	if b := best(gateway, matched); b != nil {
		o.Gateway = append(o.Gateway, *b)
		for _, j := range matched {
			if g := &gateway[j]; g != b {
				o.Gateway = append(o.Gateway, *g)
			}
		}
	}
	if isCase {
		o.DiscrepancyID = d.ID
	}
	return o
}

// withARNs puts back the card network references the run's compact
// gateway table does not keep.
func withARNs(outcomes []RefundOutcome, arns map[string]string) {
	if len(arns) == 0 {
		return
	}
	for i := range outcomes {
		for k := range outcomes[i].Gateway {
			g := &outcomes[i].Gateway[k]
			if g.ARN == "" {
				g.ARN = arns[g.ID]
			}
		}
	}
}

// RefundState is what a refund of a support look-up comes to, in the
// contract's words (lookup JSON "state").
type RefundState string

// The contract's refund states.
const (
	StateRefunded                    RefundState = "refunded"
	StateNotRefunded                 RefundState = "not_refunded"
	StatePending                     RefundState = "pending"
	StateRefundedMoreThanOnce        RefundState = "refunded_more_than_once"
	StateRefundedWithoutLedgerRecord RefundState = "refunded_without_ledger_record"
	StateLedgerBehind                RefundState = "ledger_behind"
	StateAmountDiffers               RefundState = "amount_differs"
	StateUnknown                     RefundState = "unknown"
)

// State says what the refund comes to: by its case's kind when it makes
// one (kind is then that case's), else by the gateway refund it is judged
// against.
func (o RefundOutcome) State(kind Kind, isCase bool) RefundState {
	if isCase {
		switch kind {
		case MissingAtGateway, GatewayFailed, GatewayCanceled:
			return StateNotRefunded
		case GatewayPendingTooLong:
			return StatePending
		case DuplicateAtGateway:
			return StateRefundedMoreThanOnce
		case MissingInLedger:
			return StateRefundedWithoutLedgerRecord
		case LedgerNotComplete:
			return StateLedgerBehind
		case AmountMismatch, CurrencyMismatch:
			return StateAmountDiffers
		}
		return StateUnknown
	}
	if len(o.Gateway) == 0 {
		switch {
		case !o.HasLedger:
			return StateUnknown
		case o.Ledger.Status == LedgerFailed:
			return StateNotRefunded
		}
		// Complete or pending in the ledger, not at the gateway yet (within
		// the grace period).
		return StatePending
	}
	switch o.Gateway[0].Status {
	case RefundSucceeded:
		return StateRefunded
	case RefundPending, RefundRequiresAction:
		return StatePending
	case RefundFailed, RefundCanceled:
		return StateNotRefunded
	}
	return StateUnknown
}

// SentAt is when the gateway sent the refund it is judged against to the
// card network: Stripe's created for a succeeded refund (Stripe submits a
// card refund when it creates it and says succeeded once it is submitted);
// zero when it was not sent.
func (o RefundOutcome) SentAt() time.Time {
	if len(o.Gateway) == 0 || o.Gateway[0].Status != RefundSucceeded {
		return time.Time{}
	}
	return o.Gateway[0].Created
}

// ARN is the card network's reference of the refund judged against, when
// the gateway has one.
func (o RefundOutcome) ARN() string {
	if len(o.Gateway) == 0 {
		return ""
	}
	return o.Gateway[0].ARN
}

// At is when the refund happened, for ordering: the gateway's created,
// else the ledger's completion, else its creation.
func (o RefundOutcome) At() time.Time {
	if len(o.Gateway) > 0 && !o.Gateway[0].Created.IsZero() {
		return o.Gateway[0].Created
	}
	if !o.Ledger.CompletedAt.IsZero() {
		return o.Ledger.CompletedAt
	}
	return o.Ledger.CreatedAt
}
