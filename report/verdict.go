package report

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// WriteVerdict writes the on-demand check of one customer in words a
// support agent can read out: a verdict, then every refund of the customer
// in turn, problems first: what the ledger says and when, what Stripe says
// and when, Stripe's reason, and what it means for the customer.
//
// It reads the check's outcomes (rep.Refunds); a report without them (built
// by hand) gets one paragraph per discrepancy instead.
func WriteVerdict(w io.Writer, rep reconcile.Report) error {
	run := rep.Run
	c := run.Counts
	b := &strings.Builder{}
	fmt.Fprintf(b, "Customer %s, whole history, checked %s (run %s).\n", Clean(run.Scope.CustomerID),
		run.StartedAt.UTC().Format("2 January 2006 15:04 MST"), run.ID)
	fmt.Fprintf(b, "The ledger records %s for this customer; Stripe holds %s of their charges.\n",
		plural(c.LedgerRefunds, "refund"), plural(c.GatewayRefunds, "refund"))

	cases := make(map[string]reconcile.Discrepancy, len(rep.Discrepancies))
	for _, d := range rep.Discrepancies {
		cases[d.ID] = d
	}
	b.WriteString(VerdictSentence(rep))
	b.WriteString("\n")

	outcomes := slices.Clone(rep.Refunds)
	if len(outcomes) == 0 {
		if len(rep.Discrepancies) > 0 {
			b.WriteString("\n")
		}
		for i, d := range rep.Discrepancies {
			fmt.Fprintf(b, "%d. %s [%s, case %s, %s]\n   %s\n", i+1, d.Kind.Info().Meaning, d.Kind, d.ID, d.Status, Clean(d.Detail))
		}
		_, err := io.WriteString(w, b.String())
		return err
	}
	// Every refund, OK ones too, newest first.
	SortOutcomes(outcomes)
	b.WriteString("\n")
	for i, o := range outcomes {
		d, isCase := cases[o.DiscrepancyID]
		writeOutcome(b, i+1, o, d, isCase)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// VerdictSentence is the verdict read out for one customer check.
func VerdictSentence(rep reconcile.Report) string {
	owed := map[string]int64{}
	notRefunded := 0
	for _, d := range rep.Discrepancies {
		if notReached(d.Kind) {
			notRefunded++
			if d.LedgerAmount != nil {
				owed[strings.ToLower(d.Currency)] += *d.LedgerAmount
			}
		}
	}
	if len(rep.Discrepancies) == 0 {
		return "Verdict: no problem found. Every refund the ledger records for this customer agrees with Stripe."
	}
	v := fmt.Sprintf("Verdict: %s found", plural(len(rep.Discrepancies), "problem"))
	if notRefunded > 0 {
		v += fmt.Sprintf("; %s the ledger calls complete did NOT reach the customer (%s not refunded)",
			plural(notRefunded, "refund"), amounts(owed))
	}
	return v + "."
}

// SortOutcomes orders a check's refunds newest first.
func SortOutcomes(outcomes []reconcile.RefundOutcome) {
	sort.SliceStable(outcomes, func(i, j int) bool {
		return outcomes[i].At().After(outcomes[j].At())
	})
}

// Appear is the sentence on when a refund Stripe sent should reach the
// customer, with its card network reference; "" for a refund not sent.
func Appear(o reconcile.RefundOutcome) string {
	sent := o.SentAt()
	if sent.IsZero() {
		return ""
	}
	s := fmt.Sprintf("Stripe sent it to the card network on %s; a card refund usually appears on the customer's statement 5–10 business days after (by about %s).",
		date(sent), date(addBusinessDays(sent, 10)))
	if arn := o.ARN(); arn != "" {
		s += " The card network's reference (ARN) is " + Clean(arn) + ": their bank can trace the refund with it."
	} else {
		s += " Stripe has no card network reference (ARN) for it yet."
	}
	return s
}

// addBusinessDays adds n weekdays to t.
func addBusinessDays(t time.Time, n int) time.Time {
	for n > 0 {
		t = t.AddDate(0, 0, 1)
		if wd := t.Weekday(); wd != time.Saturday && wd != time.Sunday {
			n--
		}
	}
	return t
}

// writeOutcome writes one refund's paragraph.
func writeOutcome(b *strings.Builder, n int, o reconcile.RefundOutcome, d reconcile.Discrepancy, isCase bool) {
	var g *reconcile.GatewayRefund
	if len(o.Gateway) > 0 {
		g = &o.Gateway[0]
	}
	state := "OK"
	if isCase {
		state = d.Kind.Info().Outcome
	} else if g != nil && (g.Status == reconcile.RefundPending || g.Status == reconcile.RefundRequiresAction) {
		state = "IN PROGRESS"
	} else if !o.HasLedger && g != nil && !g.Status.Live() {
		state = "NOTHING REFUNDED"
	}
	const indent = "   "

	if o.HasLedger {
		l := o.Ledger
		fmt.Fprintf(b, "%d. Refund %s: %s", n, orUnnamed(l.ID), ledgerMoney(l))
		if l.ChargeID != "" {
			fmt.Fprintf(b, " of charge %s", Clean(l.ChargeID))
		} else if l.PaymentIntentID != "" {
			fmt.Fprintf(b, " of payment intent %s", Clean(l.PaymentIntentID))
		}
		fmt.Fprintf(b, " — %s\n", state)
		fmt.Fprintf(b, "%s%s; %s.\n", indent, sentenceCase(ledgerSays(l)), gatewaySays(o.Gateway))
	} else if g != nil {
		fmt.Fprintf(b, "%d. Stripe refund %s: %s of charge %s — %s\n", n, Clean(g.ID), money.Format(g.Amount, g.Currency), Clean(g.ChargeID), state)
		fmt.Fprintf(b, "%s%s; the ledger has no record of it.\n", indent, sentenceCase(gatewaySays(o.Gateway)))
	}
	if g != nil && g.Status == reconcile.RefundFailed {
		fmt.Fprintf(b, "%sStripe's reason: %s — %s.\n", indent, orUnknown(g.FailureReason), failureWords(g.FailureReason))
	}
	if a := Appear(o); a != "" {
		fmt.Fprintf(b, "%s%s\n", indent, a)
	}
	fmt.Fprintf(b, "%sFor the customer: %s\n", indent, meaning(o, g, d, isCase))
	if isCase {
		seen := "seen before"
		if d.New {
			seen = "new with this check"
		}
		fmt.Fprintf(b, "%sCase %s (%s, %s, %s).\n", indent, d.ID, d.Kind, d.Status, seen)
	}
}

// ledgerSays is what the ledger records and when.
func ledgerSays(l reconcile.LedgerRefund) string {
	switch l.Status {
	case reconcile.LedgerComplete:
		if l.CompletedAt.IsZero() {
			return "the ledger says complete, without a date"
		}
		return "the ledger says complete on " + date(l.CompletedAt)
	case reconcile.LedgerPending:
		return "the ledger says pending since " + date(l.CreatedAt)
	case reconcile.LedgerFailed:
		return "the ledger says failed (requested " + date(l.CreatedAt) + ")"
	}
	return fmt.Sprintf("the ledger says %q (requested %s)", Clean(string(l.Status)), date(l.CreatedAt))
}

// gatewaySays is what Stripe holds for a refund and when: the refund it is
// judged against, then any other attempt.
func gatewaySays(gs []reconcile.GatewayRefund) string {
	if len(gs) == 0 {
		return "Stripe has no refund for it"
	}
	s := gatewayState(gs[0])
	if len(gs) > 1 {
		var others []string
		for _, g := range gs[1:] {
			others = append(others, fmt.Sprintf("%s %s", Clean(g.ID), g.Status))
		}
		s += " (other attempts: " + strings.Join(others, ", ") + ")"
	}
	return s
}

func gatewayState(g reconcile.GatewayRefund) string {
	id := Clean(g.ID)
	switch g.Status {
	case reconcile.RefundSucceeded:
		return fmt.Sprintf("Stripe refund %s succeeded (created %s)", id, date(g.Created))
	case reconcile.RefundPending, reconcile.RefundRequiresAction:
		return fmt.Sprintf("Stripe refund %s has been %s since %s", id, strings.ReplaceAll(string(g.Status), "_", " "), date(g.Created))
	case reconcile.RefundFailed:
		if g.FailedAt.IsZero() {
			return fmt.Sprintf("Stripe failed refund %s (created %s; Stripe does not say when it failed)", id, date(g.Created))
		}
		return fmt.Sprintf("Stripe failed refund %s on %s (created %s)", id, date(g.FailedAt), date(g.Created))
	case reconcile.RefundCanceled:
		return fmt.Sprintf("Stripe canceled refund %s (created %s)", id, date(g.Created))
	}
	return fmt.Sprintf("Stripe refund %s is %q (created %s)", id, Clean(string(g.Status)), date(g.Created))
}

// meaning says what a refund's state means for the customer, and what to
// do about it.
func meaning(o reconcile.RefundOutcome, g *reconcile.GatewayRefund, d reconcile.Discrepancy, isCase bool) string {
	if !isCase {
		switch {
		case g == nil:
			return "nothing to check at Stripe yet."
		case g.Status == reconcile.RefundSucceeded && o.HasLedger && o.Ledger.Status == reconcile.LedgerComplete:
			return "the refund was sent and the records agree; if it has not appeared yet, give them the date above (and the ARN for their bank, if any)."
		case g.Status == reconcile.RefundSucceeded:
			return "the refund was sent; the records are still being updated."
		case g.Status == reconcile.RefundPending || g.Status == reconcile.RefundRequiresAction:
			return "the money is on its way; nothing to do yet."
		default:
			return "nothing was refunded by this attempt, and nothing was recorded as refunded."
		}
	}
	amount := ""
	if d.LedgerAmount != nil {
		amount = " " + money.Format(*d.LedgerAmount, d.Currency)
	}
	switch d.Kind {
	case reconcile.MissingAtGateway:
		return "they have NOT received the" + amount + " the ledger says was refunded: Stripe never made this refund. Do not tell them it was refunded; it has to be made."
	case reconcile.GatewayFailed:
		return "they have NOT received the" + amount + " the ledger says was refunded: the money came back to us. Do not tell them it was refunded; refund them again, by another card or a bank transfer if this card cannot take it."
	case reconcile.GatewayCanceled:
		return "they have NOT received the" + amount + " the ledger says was refunded: the refund was canceled. Do not tell them it was refunded; it has to be made again."
	case reconcile.GatewayPendingTooLong:
		return "the money has not reached them yet, although the ledger says it did. It may still arrive; if it does not, ask Stripe support about the refund."
	case reconcile.DuplicateAtGateway:
		return "they were (or will be) refunded more than once for one refund: more money left than the ledger records. Finance should decide whether to cancel or recover the extra refund."
	case reconcile.CurrencyMismatch:
		return "they were refunded in another currency than the ledger records; the amount they received may differ from what they were told."
	case reconcile.AmountMismatch:
		if d.LedgerAmount != nil && d.GatewayAmount != nil {
			diff := *d.GatewayAmount - *d.LedgerAmount
			cur := d.GatewayCurrency
			if cur == "" {
				cur = d.Currency
			}
			if diff < 0 {
				return fmt.Sprintf("Stripe sent them %s, %s LESS than the ledger records: they are still owed the difference.",
					money.Format(*d.GatewayAmount, cur), money.Format(-diff, cur))
			}
			return fmt.Sprintf("Stripe sent them %s, %s MORE than the ledger records.", money.Format(*d.GatewayAmount, cur), money.Format(diff, cur))
		}
		return "they received another amount than the ledger records."
	case reconcile.CustomerMismatch:
		other := ""
		if g != nil && g.CustomerID != "" {
			other = " (" + Clean(g.CustomerID) + ")"
		}
		return "the refund went to a charge of another customer" + other + ": this customer may not have received it."
	case reconcile.LedgerNotComplete:
		return "Stripe HAS sent this refund; the ledger does not say so yet and must be corrected, so that they are not refunded twice."
	case reconcile.MissingInLedger:
		return "Stripe HAS sent this refund, but the ledger has no record of it: finance must record or explain it."
	case reconcile.InvalidLedgerRow:
		return "the ledger's record of this refund is malformed, so it cannot be checked: " + Clean(d.Detail)
	}
	return Clean(d.Detail)
}

// failureWords explains Stripe's refund failure reasons.
func failureWords(reason string) string {
	switch reason {
	case "expired_or_canceled_card":
		return "the card was expired or canceled, so the money could not be returned to it"
	case "lost_or_stolen_card":
		return "the card was reported lost or stolen, so the money could not be returned to it"
	case "declined":
		return "the customer's bank declined the refund"
	case "insufficient_funds":
		return "the account's Stripe balance could not cover the refund"
	case "merchant_request":
		return "the refund was stopped at our own request"
	case "charge_for_pending_refund_disputed":
		return "the customer disputed the charge while the refund was pending"
	}
	return "Stripe does not say more"
}

// notReached: the kinds where money the ledger calls refunded never reached
// the customer.
func notReached(k reconcile.Kind) bool {
	return k == reconcile.MissingAtGateway || k == reconcile.GatewayFailed || k == reconcile.GatewayCanceled
}

func date(t time.Time) string {
	if t.IsZero() {
		return "an unknown date"
	}
	return t.UTC().Format("2 January 2006")
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

func sentenceCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

func orUnnamed(id string) string {
	if strings.TrimSpace(id) == "" {
		return "(without id)"
	}
	return Clean(id)
}

func orUnknown(reason string) string {
	if reason == "" {
		return "unknown"
	}
	return Clean(reason)
}

func ledgerMoney(l reconcile.LedgerRefund) string {
	if l.AmountNull {
		return "no amount"
	}
	return money.Format(l.Amount, l.Currency)
}

// amounts joins per-currency totals: "USD 45.00 and EUR 7.00".
func amounts(byCurrency map[string]int64) string {
	if len(byCurrency) == 0 {
		return "an unknown amount"
	}
	codes := make([]string, 0, len(byCurrency))
	for c := range byCurrency {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	parts := make([]string, len(codes))
	for i, c := range codes {
		parts[i] = money.Format(byCurrency[c], c)
	}
	return strings.Join(parts, " and ")
}
