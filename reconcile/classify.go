package reconcile

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
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
	d := Discrepancy{
		LedgerRefundID:   l.ID,
		CustomerID:       l.CustomerID,
		ChargeID:         l.ChargeID,
		Currency:         l.currency(),
		GatewayRefundIDs: make([]string, 0, len(matched)),
	}
	if !l.AmountNull {
		amount := l.Amount
		d.LedgerAmount = &amount
	}
	for _, j := range matched {
		d.GatewayRefundIDs = append(d.GatewayRefundIDs, gateway[j].ID)
	}
	slices.Sort(d.GatewayRefundIDs)
	b := best(gateway, matched)
	if b != nil {
		amount := b.Amount
		d.GatewayAmount = &amount
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
	}

	if problems := l.Problems(r.ValidCurrency); len(problems) > 0 {
		d.Kind = InvalidLedgerRow
		if strings.TrimSpace(l.ID) == "" {
			d.rowKey = fmt.Sprintf("%s|%s|%s|%s|%d|%s|%s|%d", l.CustomerID, l.ChargeID, l.PaymentIntentID,
				l.GatewayRefundID, l.Amount, l.Currency, l.Status, l.CreatedAt.UnixNano())
		}
		d.Detail = fmt.Sprintf("Ledger row %s breaks the column rules: %s.", orUnnamed(l.ID), strings.Join(problems, "; "))
		return d.withID(), true
	}

	var found []Kind
	var sentences []string
	add := func(k Kind, format string, args ...any) {
		found = append(found, k)
		sentences = append(sentences, fmt.Sprintf(format, args...))
	}
	complete := l.Status == LedgerComplete
	ledgerSide := fmt.Sprintf("The ledger marked refund %s of %s complete on %s", l.ID, r.money(l.Amount, l.Currency), day(l.CompletedAt))

	if b == nil {
		if complete && now.Sub(l.CompletedAt) > r.Grace {
			add(MissingAtGateway, "%s, but Stripe has no refund for it (%s).", ledgerSide, lookedUp(l))
		}
	} else {
		live := 0
		for _, j := range matched {
			if gateway[j].Status.Live() {
				live++
			}
		}
		switch {
		case complete && b.Status == RefundFailed:
			failed := ""
			if !b.FailedAt.IsZero() {
				failed = " on " + day(b.FailedAt)
			}
			add(GatewayFailed, "%s, but Stripe failed refund %s%s (%s): the customer has not been refunded.", ledgerSide, b.ID, failed, orUnknown(b.FailureReason))
		case complete && b.Status == RefundCanceled:
			add(GatewayCanceled, "%s, but Stripe refund %s was canceled: the customer has not been refunded.", ledgerSide, b.ID)
		}
		if live >= 2 {
			add(DuplicateAtGateway, "Stripe holds %d succeeded or pending refunds (%s) for ledger refund %s: the customer may be refunded %d times.", live, strings.Join(liveIDs(gateway, matched), ", "), l.ID, live)
		}
		if complete && b.Status.pending() && now.Sub(b.Created) > r.PendingAfter {
			add(GatewayPendingTooLong, "Stripe refund %s has been %s since %s, longer than %s, while the ledger marked it complete on %s.", b.ID, b.Status, day(b.Created), hours(r.PendingAfter), day(l.CompletedAt))
		}
		if l.currency() != b.Currency {
			add(CurrencyMismatch, "The ledger records refund %s in %s but Stripe refund %s is in %s.", l.ID, strings.ToUpper(l.Currency), b.ID, strings.ToUpper(b.Currency))
		}
		if l.Amount != b.Amount {
			add(AmountMismatch, "The ledger records refund %s as %s but Stripe refund %s is for %s.", l.ID, r.money(l.Amount, l.Currency), b.ID, r.money(b.Amount, b.Currency))
		}
		if b.CustomerID != "" && b.CustomerID != l.CustomerID {
			add(CustomerMismatch, "The ledger names customer %s for refund %s but Stripe refund %s refunds a charge of customer %s.", l.CustomerID, l.ID, b.ID, b.CustomerID)
		}
		if (l.Status == LedgerPending || l.Status == LedgerFailed) && now.Sub(l.CreatedAt) > r.Grace && b.Status == RefundSucceeded {
			add(LedgerNotComplete, "The ledger says %s for refund %s requested on %s, but Stripe refund %s succeeded: the customer has been refunded.", l.Status, l.ID, day(l.CreatedAt), b.ID)
		}
	}
	if len(found) == 0 {
		return Discrepancy{}, false
	}
	d.Kind = found[0]
	d.Detail = sentences[0]
	if len(found) > 1 {
		also := make([]string, len(found)-1)
		for i, k := range found[1:] {
			also[i] = string(k)
		}
		d.Detail += " Also: " + strings.Join(also, ", ") + ". " + strings.Join(sentences[1:], " ")
	}
	return d.withID(), true
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
		GatewayAmount:    &amount,
		GatewayStatus:    g.Status,
		FailureReason:    g.FailureReason,
	}
	of := "charge " + g.ChargeID
	if g.ChargeID == "" {
		of = "payment intent " + g.PaymentIntentID
	}
	d.Detail = fmt.Sprintf("Stripe refund %s of %s on %s (%s, created %s) has no ledger refund: money left the account without a record.", g.ID, r.money(g.Amount, g.Currency), of, g.Status, day(g.Created))
	return d.withID(), true
}

func (d Discrepancy) withID() Discrepancy {
	d.ID = DiscrepancyID(d.Fingerprint())
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
