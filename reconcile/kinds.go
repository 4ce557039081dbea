package reconcile

import (
	"slices"
	"strings"
)

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
// API, the reports, the alerts and the support verdict read it here, and
// Paging decides from it which cases page.
type KindInfo struct {
	Kind Kind
	// Label is the short human name ("Refund failed at Stripe").
	Label string
	// Meaning is one sentence saying what happened.
	Meaning string
	// NextStep says what to do about it.
	NextStep string
	// Outcome is what the case means for the customer, in capitals, as the
	// support verdict states it ("NOT REFUNDED").
	Outcome string
	// Severity is the default severity.
	Severity Severity
	// MoneyAtRisk is true when money is owed to or lost from somebody.
	MoneyAtRisk bool
	// Pages is true when a case of this kind pages someone by default
	// (DefaultPageKinds): the customer did not get the money, or got it
	// twice. ALERT_PAGE_KINDS overrides it through Paging.
	Pages bool
	// Rank orders kinds worst first: 1 is the worst. Money the customer was
	// promised but did not get comes first; a broken ledger row last.
	Rank int
}

// kindInfos lists every kind worst first; Rank is the position plus one.
var kindInfos = []KindInfo{
	{Kind: GatewayFailed, Outcome: "NOT REFUNDED", Label: "Refund failed at Stripe", Severity: SeverityCritical, MoneyAtRisk: true, Pages: true,
		Meaning:  "The ledger says the refund is complete, but Stripe failed it: the customer did not get the money back.",
		NextStep: "Contact the customer for another payout method or retry the refund, then resolve with what was done."},
	{Kind: MissingAtGateway, Outcome: "NOT REFUNDED", Label: "Refund never reached Stripe", Severity: SeverityCritical, MoneyAtRisk: true, Pages: true,
		Meaning:  "The ledger says the refund is complete, but Stripe has no such refund: the customer did not get the money back.",
		NextStep: "Issue the refund in Stripe (or find why it was never sent) and record its re_ id in the ledger."},
	{Kind: GatewayCanceled, Outcome: "NOT REFUNDED", Label: "Refund canceled at Stripe", Severity: SeverityCritical, MoneyAtRisk: true,
		Meaning:  "The ledger says the refund is complete, but the Stripe refund was canceled: the customer did not get the money back.",
		NextStep: "Find who canceled it, then refund again or correct the ledger."},
	{Kind: DuplicateAtGateway, Outcome: "REFUNDED MORE THAN ONCE", Label: "Refunded more than once", Severity: SeverityHigh, MoneyAtRisk: true, Pages: true,
		Meaning:  "Stripe holds two or more live refunds for one ledger refund: the customer was refunded more than once.",
		NextStep: "Cancel the extra refund if still pending, otherwise decide with the customer how to recover it."},
	{Kind: GatewayPendingTooLong, Outcome: "NOT REFUNDED YET", Label: "Refund stuck pending", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "The ledger says the refund is complete, but Stripe has kept it pending for longer than expected.",
		NextStep: "Check the refund in the Stripe Dashboard and contact Stripe support if it does not move."},
	{Kind: CurrencyMismatch, Outcome: "WRONG CURRENCY", Label: "Refunded in another currency", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "The ledger and Stripe refunded in different currencies.",
		NextStep: "Work out which side is wrong, correct the ledger or refund the difference."},
	{Kind: AmountMismatch, Outcome: "WRONG AMOUNT", Label: "Refunded amount differs", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "Stripe refunded a different amount than the ledger records.",
		NextStep: "Refund the difference or correct the ledger, then resolve with what was done."},
	{Kind: CustomerMismatch, Outcome: "WENT TO ANOTHER CUSTOMER", Label: "Refunded to another customer", Severity: SeverityHigh, MoneyAtRisk: true,
		Meaning:  "The refunded charge belongs to a different customer than the ledger names.",
		NextStep: "Check who received the money and correct the ledger or recover the refund."},
	{Kind: MissingInLedger, Outcome: "REFUNDED WITHOUT A LEDGER RECORD", Label: "Refund missing in the ledger", Severity: SeverityMedium, MoneyAtRisk: true,
		Meaning:  "Stripe sent a refund that no ledger refund records: money left the account without a record.",
		NextStep: "Find who issued it and add the refund to the ledger, or recover it if it was a mistake."},
	{Kind: LedgerNotComplete, Outcome: "REFUNDED, LEDGER BEHIND", Label: "Ledger behind Stripe", Severity: SeverityMedium, MoneyAtRisk: true,
		Meaning:  "Stripe refunded the customer, but the ledger still says pending or failed.",
		NextStep: "Mark the ledger refund complete so the books match what was paid out."},
	{Kind: InvalidLedgerRow, Outcome: "LEDGER RECORD BROKEN", Label: "Invalid ledger row", Severity: SeverityLow, MoneyAtRisk: false,
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
	return KindInfo{Kind: k, Label: string(k), Outcome: strings.ToUpper(string(k)), Meaning: "Ledger and Stripe disagree about a refund.",
		NextStep: "Compare the ledger row with the Stripe refund.", Severity: SeverityLow, Rank: len(kindInfos) + 1}
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

// DefaultPageKinds lists the kinds that page by default (KindInfo.Pages),
// in the order of kindInfos.
func DefaultPageKinds() []Kind {
	var out []Kind
	for _, info := range kindInfos {
		if info.Pages {
			out = append(out, info.Kind)
		}
	}
	return out
}

// Paging is the one rule deciding which cases page a person rather than
// only notify: alerts send them as critical, and the reports and the page
// mark them. It is configured by ALERT_PAGE_KINDS and ALERT_PAGE_MIN_AMOUNT.
type Paging struct {
	// PageKinds are the kinds that page; every other kind notifies. Nil
	// means DefaultPageKinds; an empty, non-nil list pages no kind.
	PageKinds []Kind
	// PageMinAmount is the smallest amount at risk, in minor units, by
	// lower-case currency, at which a case of a page kind pages; below it
	// the case only notifies. The key "" applies to the currencies not
	// listed. Nil pages whatever the amount.
	PageMinAmount map[string]int64
}

// PagesKind reports whether cases of kind k page (given enough money at
// risk).
func (p Paging) PagesKind(k Kind) bool {
	if p.PageKinds == nil {
		return k.Info().Pages
	}
	return slices.Contains(p.PageKinds, k)
}

// Pages reports whether d pages: its kind pages and the money it puts at
// risk (AtRisk) reaches the floor of its currency.
func (p Paging) Pages(d Discrepancy) bool {
	if !p.PagesKind(d.Kind) {
		return false
	}
	amount, currency := AtRisk(d)
	floor, ok := p.PageMinAmount[strings.ToLower(currency)]
	if !ok {
		floor = p.PageMinAmount[""]
	}
	return amount >= floor
}
