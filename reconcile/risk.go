package reconcile

import "strings"

// AtRisk is the money a discrepancy puts at risk, in minor units of the
// currency it returns (lower case): what the customer did not get (missing
// at the gateway, failed, canceled, pending, booked in another currency:
// the ledger's amount), what went out unrecorded, to another customer or
// more than once (the gateway's amount), or the difference of an amount
// mismatch. An invalid row counts its ledger amount when positive, else the
// gateway's. Every report, metric and alert counts it this way.
func AtRisk(d Discrepancy) (amount int64, currency string) {
	ledger, gateway := int64(0), int64(0)
	if d.LedgerAmount != nil && *d.LedgerAmount > 0 {
		ledger = *d.LedgerAmount
	}
	if d.GatewayAmount != nil && *d.GatewayAmount > 0 {
		gateway = *d.GatewayAmount
	}
	ledgerCurrency := strings.ToLower(d.Currency)
	gatewayCurrency := strings.ToLower(d.GatewayCurrency)
	if gatewayCurrency == "" {
		gatewayCurrency = ledgerCurrency
	}
	switch d.Kind {
	case MissingInLedger, LedgerNotComplete, CustomerMismatch, DuplicateAtGateway:
		return gateway, gatewayCurrency
	case AmountMismatch:
		if ledger > gateway {
			return ledger - gateway, ledgerCurrency
		}
		return gateway - ledger, ledgerCurrency
	case InvalidLedgerRow:
		if ledger == 0 {
			return gateway, gatewayCurrency
		}
	}
	return ledger, ledgerCurrency
}
