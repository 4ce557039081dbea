package reconcile

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
