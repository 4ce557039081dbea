package reconcile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Rules are the settings that decide what counts as a discrepancy.
type Rules struct {
	// Grace keeps in-flight records from being flagged as missing on either
	// side, or as not complete in the ledger (default 15m).
	Grace time.Duration
	// PendingAfter is how long a gateway refund may stay pending before a
	// complete ledger refund is flagged (default 120h).
	PendingAfter time.Duration
	// ValidCurrency reports whether an upper-case code is on the ISO 4217
	// list. Nil accepts any three letters.
	ValidCurrency func(code string) bool
	// FormatMoney renders an amount in minor units for a detail sentence.
	// Nil prints minor units and the code.
	FormatMoney func(amount int64, currency string) string
}

// Default rule values of the contract.
const (
	DefaultGrace        = 15 * time.Minute
	DefaultPendingAfter = 120 * time.Hour
	DefaultMargin       = 720 * time.Hour
)

func (r *Rules) money(amount int64, currency string) string {
	if r.FormatMoney != nil {
		return r.FormatMoney(amount, currency)
	}
	return strconv.FormatInt(amount, 10) + " " + strings.ToUpper(currency)
}

// best returns the gateway refund a ledger refund is judged against:
// succeeded, then pending or requires_action, then failed, then canceled;
// among equals the latest created (a retry after a failed attempt).
func best(gateway []GatewayRefund, matched []int32) *GatewayRefund {
	var b *GatewayRefund
	for _, j := range matched {
		g := &gateway[j]
		if b == nil || g.Status.rank() < b.Status.rank() ||
			(g.Status.rank() == b.Status.rank() && (g.Created.After(b.Created) ||
				(g.Created.Equal(b.Created) && g.ID > b.ID))) {
			b = g
		}
	}
	return b
}

// ClassifyLedger judges one ledger refund against the gateway refunds
// matched to it (indexes into gateway) at time now. It returns false when
// nothing is wrong. Where several kinds apply, the first in precedence order
// wins and the rest are named in the detail.
func (r *Rules) ClassifyLedger(l *LedgerRefund, gateway []GatewayRefund, matched []int32, now time.Time) (Discrepancy, bool) {
	// Decide first, without allocating: most refunds are fine.
	if !l.Status.Valid() {
		if n := l.Status.Normal(); n != l.Status { // COMPLETE is complete
			c := *l
			c.Status = n
			l = &c
		}
	}
	b := best(gateway, matched)
	invalid := !rowValid(l, r.ValidCurrency)
	var kinds []Kind
	if !invalid {
		var buf [4]Kind
		kinds = r.judge(l, gateway, matched, b, now, buf[:0])
		if len(kinds) == 0 {
			return Discrepancy{}, false
		}
	}

	d := Discrepancy{
		LedgerRefundID:   l.ID,
		CustomerID:       l.CustomerID,
		ChargeID:         l.ChargeID,
		PaymentIntentID:  l.PaymentIntentID,
		Currency:         l.currency(),
		GatewayRefundIDs: make([]string, 0, len(matched)),
	}
	if !l.AmountNull && l.AmountText == "" {
		amount := l.Amount
		d.LedgerAmount = &amount
	}
	for _, j := range matched {
		d.GatewayRefundIDs = append(d.GatewayRefundIDs, gateway[j].ID)
	}
	slices.Sort(d.GatewayRefundIDs)
	if b != nil {
		amount := b.Amount
		d.GatewayAmount = &amount
		d.GatewayCurrency = b.Currency
		d.GatewayStatus = b.Status
		d.FailureReason = b.FailureReason
		if d.ChargeID == "" {
			d.ChargeID = b.ChargeID
		}
		if d.Currency == "" {
			d.Currency = b.Currency
		}
		if d.CustomerID == "" {
			d.CustomerID = b.CustomerID
		}
		if d.PaymentIntentID == "" {
			d.PaymentIntentID = b.PaymentIntentID
		}
	}
	d.RefundAt = l.at()
	if d.RefundAt.IsZero() && b != nil {
		d.RefundAt = b.Created
	}
	d.ProblemSince = d.RefundAt

	if invalid {
		d.Kind = InvalidLedgerRow
		if strings.TrimSpace(l.ID) == "" {
			d.rowKey = fmt.Sprintf("%s|%s|%s|%s|%d|%s|%s|%d", l.CustomerID, l.ChargeID, l.PaymentIntentID,
				l.GatewayRefundID, l.Amount, l.Currency, l.Status, l.CreatedAt.UnixNano())
		}
		// The row's values may be of any size or content: the case holds
		// them bounded, so that it can be stored, indexed and alerted on.
		d.LedgerRefundID, d.CustomerID = Bounded(d.LedgerRefundID), Bounded(d.CustomerID)
		d.ChargeID, d.Currency = Bounded(d.ChargeID), Bounded(d.Currency)
		d.Detail = capDetail(fmt.Sprintf("Ledger row %s breaks the column rules: %s.", orUnnamed(Bounded(l.ID)), strings.Join(l.Problems(r.ValidCurrency), "; ")))
		return d.withID(), true
	}

	sentences := make([]string, len(kinds))
	for i, k := range kinds {
		sentences[i] = r.sentence(k, l, gateway, matched, b)
	}
	d.Kind = kinds[0]
	d.Detail = sentences[0]
	if d.Kind == GatewayFailed && !b.FailedAt.IsZero() {
		d.ProblemSince = b.FailedAt
	}
	if len(kinds) > 1 {
		also := make([]string, len(kinds)-1)
		for i, k := range kinds[1:] {
			also[i] = string(k)
		}
		d.Detail += " Also: " + strings.Join(also, ", ") + ". " + strings.Join(sentences[1:], " ")
	}
	return d.withID(), true
}

// rowValid is l.valid for a row whose status is normal, deciding the common
// case without TrimSpace.
func rowValid(l *LedgerRefund, validCurrency func(string) bool) bool {
	return filled(l.ID) && filled(l.CustomerID) && l.AmountText == "" && !l.AmountNull && l.Amount > 0 &&
		validCode(l.Currency, validCurrency) && l.Status.Valid() &&
		(l.Status != LedgerComplete || !l.CompletedAt.IsZero()) && !l.CreatedAt.IsZero() &&
		l.textOK()
}

// MaxDetailBytes bounds a discrepancy's detail sentence.
const MaxDetailBytes = 2048

// capDetail cuts s to MaxDetailBytes on a rune boundary.
func capDetail(s string) string {
	if len(s) <= MaxDetailBytes {
		return s
	}
	cut := MaxDetailBytes - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// filled is !isBlank(s): a string that starts with a printable ASCII
// character other than space is not blank, whatever follows.
func filled(s string) bool {
	if len(s) > 0 && s[0] > ' ' && s[0] < utf8.RuneSelf {
		return true
	}
	return !isBlank(s)
}

// memoCurrency wraps valid with a small cache of its last answers: a run
// asks about the same few codes for every row. The wrapper is for one
// run's goroutine; it is not safe for concurrent use.
func memoCurrency(valid func(string) bool) func(string) bool {
	if valid == nil {
		return nil
	}
	var codes [8]string
	var answers [8]bool
	n, next := 0, 0
	return func(code string) bool {
		for i := range n {
			if codes[i] == code {
				return answers[i]
			}
		}
		ok := valid(code)
		codes[next], answers[next] = code, ok
		next = (next + 1) % len(codes)
		n = max(n, next)
		if next == 0 {
			n = len(codes)
		}
		return ok
	}
}

// judge appends every kind that applies to a valid ledger refund, in
// precedence order; b is the best matched gateway refund or nil.
func (r *Rules) judge(l *LedgerRefund, gateway []GatewayRefund, matched []int32, b *GatewayRefund, now time.Time, kinds []Kind) []Kind {
	complete := l.Status == LedgerComplete
	if b == nil {
		if complete && now.Sub(l.CompletedAt) > r.Grace {
			kinds = append(kinds, MissingAtGateway)
		}
		return kinds
	}
	switch {
	case complete && b.Status == RefundFailed:
		kinds = append(kinds, GatewayFailed)
	case complete && b.Status == RefundCanceled:
		kinds = append(kinds, GatewayCanceled)
	}
	if len(matched) > 1 && live(gateway, matched) >= 2 {
		kinds = append(kinds, DuplicateAtGateway)
	}
	if complete && b.Status.pending() && now.Sub(b.Created) > r.PendingAfter {
		kinds = append(kinds, GatewayPendingTooLong)
	}
	if !strings.EqualFold(l.Currency, b.Currency) {
		kinds = append(kinds, CurrencyMismatch)
	}
	if l.Amount != b.Amount {
		kinds = append(kinds, AmountMismatch)
	}
	if b.CustomerID != "" && b.CustomerID != l.CustomerID {
		kinds = append(kinds, CustomerMismatch)
	}
	if (l.Status == LedgerPending || l.Status == LedgerFailed) && now.Sub(l.CreatedAt) > r.Grace && b.Status == RefundSucceeded {
		kinds = append(kinds, LedgerNotComplete)
	}
	return kinds
}

// sentence says in words why kind k applies.
func (r *Rules) sentence(k Kind, l *LedgerRefund, gateway []GatewayRefund, matched []int32, b *GatewayRefund) string {
	ledgerSide := func() string {
		return fmt.Sprintf("The ledger marked refund %s of %s complete on %s", l.ID, r.money(l.Amount, l.Currency), day(l.CompletedAt))
	}
	switch k {
	case MissingAtGateway:
		return fmt.Sprintf("%s, but Stripe has no refund for it (%s).", ledgerSide(), lookedUp(l))
	case GatewayFailed:
		failed := ""
		if !b.FailedAt.IsZero() {
			failed = " on " + day(b.FailedAt)
		}
		return fmt.Sprintf("%s, but Stripe failed refund %s%s (%s): the customer has not been refunded.", ledgerSide(), b.ID, failed, orUnknown(b.FailureReason))
	case GatewayCanceled:
		return fmt.Sprintf("%s, but Stripe refund %s was canceled: the customer has not been refunded.", ledgerSide(), b.ID)
	case DuplicateAtGateway:
		n := live(gateway, matched)
		return fmt.Sprintf("Stripe holds %d succeeded or pending refunds (%s) for ledger refund %s: the customer may be refunded %d times.", n, strings.Join(liveIDs(gateway, matched), ", "), l.ID, n)
	case GatewayPendingTooLong:
		return fmt.Sprintf("Stripe refund %s has been %s since %s, longer than %s, while the ledger marked it complete on %s.", b.ID, b.Status, day(b.Created), hours(r.PendingAfter), day(l.CompletedAt))
	case CurrencyMismatch:
		return fmt.Sprintf("The ledger records refund %s in %s but Stripe refund %s is in %s.", l.ID, strings.ToUpper(l.Currency), b.ID, strings.ToUpper(b.Currency))
	case AmountMismatch:
		return fmt.Sprintf("The ledger records refund %s as %s but Stripe refund %s is for %s.", l.ID, r.money(l.Amount, l.Currency), b.ID, r.money(b.Amount, b.Currency))
	case CustomerMismatch:
		return fmt.Sprintf("The ledger names customer %s for refund %s but Stripe refund %s refunds a charge of customer %s.", l.CustomerID, l.ID, b.ID, b.CustomerID)
	case LedgerNotComplete:
		return fmt.Sprintf("The ledger says %s for refund %s requested on %s, but Stripe refund %s succeeded: the customer has been refunded.", l.Status, l.ID, day(l.CreatedAt), b.ID)
	}
	return string(k)
}

func live(gateway []GatewayRefund, matched []int32) int {
	n := 0
	for _, j := range matched {
		if gateway[j].Status.Live() {
			n++
		}
	}
	return n
}

// ClassifyGateway judges a gateway refund no ledger refund matched.
func (r *Rules) ClassifyGateway(g *GatewayRefund, now time.Time) (Discrepancy, bool) {
	if !g.Status.Live() || now.Sub(g.Created) <= r.Grace {
		return Discrepancy{}, false
	}
	amount := g.Amount
	d := Discrepancy{
		Kind:             MissingInLedger,
		CustomerID:       g.CustomerID,
		GatewayRefundIDs: []string{g.ID},
		ChargeID:         g.ChargeID,
		Currency:         g.Currency,
		GatewayCurrency:  g.Currency,
		GatewayAmount:    &amount,
		GatewayStatus:    g.Status,
		FailureReason:    g.FailureReason,
		PaymentIntentID:  g.PaymentIntentID,
		RefundAt:         g.Created,
		ProblemSince:     g.Created,
	}
	of := "charge " + g.ChargeID
	if g.ChargeID == "" {
		of = "payment intent " + g.PaymentIntentID
	}
	d.Detail = fmt.Sprintf("Stripe refund %s of %s on %s (%s, created %s) has no ledger refund: money left the account without a record.", g.ID, r.money(g.Amount, g.Currency), of, g.Status, day(g.Created))
	return d.withID(), true
}

func (d Discrepancy) withID() Discrepancy {
	d.Subject = d.Fingerprint()
	d.ID = DiscrepancyID(d.Subject)
	return d
}

func liveIDs(gateway []GatewayRefund, matched []int32) []string {
	var ids []string
	for _, j := range matched {
		if gateway[j].Status.Live() {
			ids = append(ids, gateway[j].ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func lookedUp(l *LedgerRefund) string {
	switch {
	case l.GatewayRefundID != "":
		return "looked up " + l.GatewayRefundID + " directly"
	case l.ChargeID != "":
		return "looked up the refunds of charge " + l.ChargeID
	case l.PaymentIntentID != "":
		return "looked up the refunds of payment intent " + l.PaymentIntentID
	}
	return "the ledger names no gateway refund, charge or payment intent to look up"
}

func day(t time.Time) string { return t.UTC().Format("2006-01-02") }

func hours(d time.Duration) string {
	if d%(24*time.Hour) == 0 {
		return strconv.Itoa(int(d/(24*time.Hour))) + " days"
	}
	return d.String()
}

func orUnknown(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

func orUnnamed(id string) string {
	if strings.TrimSpace(id) == "" {
		return "(no id)"
	}
	return id
}
