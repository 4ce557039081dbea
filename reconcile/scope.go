package reconcile

// gatewayInScope: created inside the window, and the customer's when the
// run is for one customer.
func (s *sides) gatewayInScope(g *GatewayRefund) bool {
	return (s.scope.Contains(g.Created) || s.rejudge.hasGateway(g.ID)) && s.gatewayOfCustomer(g)
}

func (s *sides) gatewayOfCustomer(g *GatewayRefund) bool {
	c := s.scope.CustomerID
	if c == "" {
		return true
	}
	if g.CustomerID != "" {
		return g.CustomerID == c
	}
	return s.customerCharges[g.ChargeID]
}

// ledgerInScope: completed (not complete: created) inside the window, or
// without any timestamp (such a row is in every window), or matched to a
// refund the gateway failed inside it; and the customer's (by the ledger or
// by a matched charge) when the run is for one customer.
func (s *sides) ledgerInScope(l *LedgerRefund, matched []int32) bool {
	if s.rejudge.hasLedger(l.ID) {
		return true // an open case's row, judged again wherever it lies
	}
	if s.scope.CustomerID != "" && l.CustomerID != s.scope.CustomerID {
		ok := false
		for _, j := range matched {
			if g := s.gateway.at(int(j)); g.CustomerID == s.scope.CustomerID {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if l.inWindow(s.scope) {
		return true
	}
	for _, j := range matched {
		if f := s.gateway.at(int(j)).FailedAt; !f.IsZero() && s.scope.Contains(f) {
			return true
		}
	}
	return false
}
