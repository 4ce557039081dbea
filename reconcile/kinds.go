package reconcile

// Severity says how urgently a kind of discrepancy wants a person.
type Severity string

// The severities, most urgent first.
const (
	SeverityCritical Severity = "critical"
	SeverityHigh     Severity = "high"
	SeverityMedium   Severity = "medium"
	SeverityLow      Severity = "low"
)

// KindInfo is what a kind of discrepancy means to a person: the one place
// its label, sentence, next step and severity are written. The page, the
// API and (in time) the reports, alerts and support verdict read it here.
type KindInfo struct {
	Kind Kind
	// Label is the short human name ("Refund failed at Stripe").
	Label string
	// Meaning is one sentence saying what happened.
	Meaning string
	// NextStep says what to do about it.
	NextStep string
	// Severity is the default severity.
	Severity Severity
	// MoneyAtRisk is true when money is owed to or lost from somebody.
	MoneyAtRisk bool
	// Rank orders kinds worst first: 1 is the worst. Money the customer was
	// promised but did not get comes first; a broken ledger row last.
	Rank int
}

// kindInfos lists every kind worst first; Rank is the position plus one.
var kindInfos = []KindInfo{
	{Kind: GatewayFailed, Label: "Refund failed at Stripe", Severity: SeverityCritical, MoneyAtRisk: true,
		Meaning:  "The ledger says the refund is complete, but Stripe failed it: the customer did not get the money back.",
		NextStep: "Contact the customer for another payout method or retry the refund, then resolve with what was done."},
	{Kind: MissingAtGateway, Label: "Refund never reached Stripe", Severity: SeverityCritical, MoneyAtRisk: true,
		Meaning:  "The ledger says the refund is complete, but Stripe has no such refund: the customer did not get the money back.",
		NextStep: "Issue the refund in Stripe (or find why it was never sent) and record its re_ id in the ledger."},
	{Kind: GatewayCanceled, Label: "Refund canceled at Stripe", Severity: SeverityCritical, MoneyAtRisk: true,
		Meaning:  "The ledger says the refund is complete, but the Stripe refund was canceled: the customer did not get the money back.",
		NextStep: "Find who canceled it, then refund again or correct the ledger."},
	{Kind: DuplicateAtGateway, Label: "Refunded more than once", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "Stripe holds two or more live refunds for one ledger refund: the customer was refunded more than once.",
		NextStep: "Cancel the extra refund if still pending, otherwise decide with the customer how to recover it."},
	{Kind: GatewayPendingTooLong, Label: "Refund stuck pending", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "The ledger says the refund is complete, but Stripe has kept it pending for longer than expected.",
		NextStep: "Check the refund in the Stripe Dashboard and contact Stripe support if it does not move."},
	{Kind: CurrencyMismatch, Label: "Refunded in another currency", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "The ledger and Stripe refunded in different currencies.",
		NextStep: "Work out which side is wrong, correct the ledger or refund the difference."},
	{Kind: AmountMismatch, Label: "Refunded amount differs", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "Stripe refunded a different amount than the ledger records.",
		NextStep: "Refund the difference or correct the ledger, then resolve with what was done."},
	{Kind: CustomerMismatch, Label: "Refunded to another customer", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "The refunded charge belongs to a different customer than the ledger names.",
		NextStep: "Check who received the money and correct the ledger or recover the refund."},
	{Kind: MissingInLedger, Label: "Refund missing in the ledger", Severity: SeverityMedium, MoneyAtRisk: true,
		Meaning:  "Stripe sent a refund that no ledger refund records: money left the account without a record.",
		NextStep: "Find who issued it and add the refund to the ledger, or recover it if it was a mistake."},
	{Kind: LedgerNotComplete, Label: "Ledger behind Stripe", Severity: SeverityMedium, MoneyAtRisk: true,
		Meaning:  "Stripe refunded the customer, but the ledger still says pending or failed.",
		NextStep: "Mark the ledger refund complete so the books match what was paid out."},
	{Kind: InvalidLedgerRow, Label: "Invalid ledger row", Severity: SeverityLow, MoneyAtRisk: false,
		Meaning:  "A ledger row breaks the column rules, so it could not be checked against Stripe.",
		NextStep: "Fix the row in the ledger; the next run checks it."},
}

// Info returns what k means; an unknown kind gets its own string as label
// and ranks after every known one.
func (k Kind) Info() KindInfo {
	for i, info := range kindInfos {
		if info.Kind == k {
			info.Rank = i + 1
			return info
		}
	}
	return KindInfo{Kind: k, Label: string(k), Meaning: string(k), Severity: SeverityLow, Rank: len(kindInfos) + 1}
}

// Label is k's human name.
func (k Kind) Label() string { return k.Info().Label }

// Rank orders k worst first (1 is the worst).
func (k Kind) Rank() int { return k.Info().Rank }

// KindsWorstFirst lists every kind's description, worst first.
func KindsWorstFirst() []KindInfo {
	out := make([]KindInfo, len(kindInfos))
	for i, info := range kindInfos {
		out[i] = info.Kind.Info()
	}
	return out
}
