package reconcile

import (
	"strings"
	"time"
)

// LedgerStatus is the state the ledger records for a refund.
type LedgerStatus string

// The ledger statuses of the contract.
const (
	LedgerPending  LedgerStatus = "pending"
	LedgerComplete LedgerStatus = "complete"
	LedgerFailed   LedgerStatus = "failed"
)

// Valid reports whether s is one of the three ledger statuses.
func (s LedgerStatus) Valid() bool {
	return s == LedgerPending || s == LedgerComplete || s == LedgerFailed
}

// GatewayStatus is the state Stripe reports for a refund.
type GatewayStatus string

// The gateway refund statuses Stripe documents.
const (
	RefundSucceeded      GatewayStatus = "succeeded"
	RefundPending        GatewayStatus = "pending"
	RefundRequiresAction GatewayStatus = "requires_action"
	RefundFailed         GatewayStatus = "failed"
	RefundCanceled       GatewayStatus = "canceled"
)

// rank orders gateway statuses for "the best of them": succeeded first, then
// pending (requires_action counts as pending), failed, canceled, anything else.
func (s GatewayStatus) rank() int {
	switch s {
	case RefundSucceeded:
		return 0
	case RefundPending, RefundRequiresAction:
		return 1
	case RefundFailed:
		return 2
	case RefundCanceled:
		return 3
	}
	return 4
}

// Live reports whether the refund moves or will move money: succeeded,
// pending or requires_action.
func (s GatewayStatus) Live() bool { return s.rank() <= 1 }

// pending reports pending or requires_action, which count the same everywhere.
func (s GatewayStatus) pending() bool { return s.rank() == 1 }

// LedgerRefund is one row of the ledger, as read; it may break the column
// rules (see Problems). Null text columns are empty strings and null
// timestamps are the zero time.
type LedgerRefund struct {
	ID              string
	CustomerID      string
	ChargeID        string
	PaymentIntentID string
	GatewayRefundID string
	Amount          int64
	// AmountNull is true when the ledger's amount column was null.
	AmountNull  bool
	Currency    string
	Status      LedgerStatus
	CompletedAt time.Time
	CreatedAt   time.Time
}

// currency returns the currency in lower case, the form compared everywhere.
func (l *LedgerRefund) currency() string { return strings.ToLower(l.Currency) }

// Problems lists the column rules the row breaks, in the contract's words;
// empty for a valid row. validCurrency reports whether a code, in any letter
// case, is on the ISO 4217 list; nil accepts any three letters.
func (l *LedgerRefund) Problems(validCurrency func(code string) bool) []string {
	var p []string
	if isBlank(l.ID) {
		p = append(p, "id is empty")
	}
	if isBlank(l.CustomerID) {
		p = append(p, "customer_id is empty")
	}
	switch {
	case l.AmountNull:
		p = append(p, "amount is null")
	case l.Amount <= 0:
		p = append(p, "amount is not positive")
	}
	switch {
	case isBlank(l.Currency):
		p = append(p, "currency is empty")
	case !validCode(l.Currency, validCurrency):
		p = append(p, "currency "+quote(l.Currency)+" is not an ISO 4217 code")
	}
	if !l.Status.Valid() {
		p = append(p, "status "+quote(string(l.Status))+" is not pending, complete or failed")
	}
	if l.Status == LedgerComplete && l.CompletedAt.IsZero() {
		p = append(p, "status is complete but completed_at is null")
	}
	if l.CreatedAt.IsZero() {
		p = append(p, "created_at is null")
	}
	return p
}

// valid is Problems without the words, and without allocating: the
// classifier asks it of every row.
func (l *LedgerRefund) valid(validCurrency func(string) bool) bool {
	return !isBlank(l.ID) && !isBlank(l.CustomerID) && !l.AmountNull && l.Amount > 0 &&
		validCode(l.Currency, validCurrency) && l.Status.Valid() &&
		(l.Status != LedgerComplete || !l.CompletedAt.IsZero()) && !l.CreatedAt.IsZero()
}

func isBlank(s string) bool { return strings.TrimSpace(s) == "" }

// validCode: three ASCII letters, of any case, on the list.
func validCode(code string, validCurrency func(string) bool) bool {
	if len(code) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if c := code[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return validCurrency == nil || validCurrency(code)
}

func quote(s string) string { return "\"" + s + "\"" }

// at is the time that places the row in a run's window: when it was
// completed for a complete row, else when it was requested.
func (l *LedgerRefund) at() time.Time {
	if l.Status == LedgerComplete && !l.CompletedAt.IsZero() {
		return l.CompletedAt
	}
	return l.CreatedAt
}

// GatewayRefund is Stripe's record of a refund, reduced at the adapter's
// boundary to what reconciliation needs.
type GatewayRefund struct {
	ID              string
	ChargeID        string
	PaymentIntentID string
	// CustomerID is the customer of the refunded charge; empty when the
	// charge has none or it is not known.
	CustomerID string
	Amount     int64
	// Currency is lower case, as Stripe sends it.
	Currency      string
	Status        GatewayStatus
	FailureReason string
	// LedgerRefundID is the value of the STRIPE_METADATA_KEY metadata entry.
	LedgerRefundID string
	Created        time.Time
	// FailedAt is when the gateway failed the refund, when a refund_failure
	// balance transaction says so; zero otherwise.
	FailedAt time.Time
	// ARN is the card network's reference of the refund (Stripe's
	// destination_details.card.reference, the acquirer reference number a
	// customer's bank can trace); empty when the gateway has none.
	ARN string
}

// RefundFailure is a refund the gateway failed, found through a
// refund_failure balance transaction: Stripe keeps those for good, while it
// lists events for 30 days only.
type RefundFailure struct {
	RefundID string
	FailedAt time.Time
}
