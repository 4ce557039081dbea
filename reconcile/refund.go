package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// LedgerStatus is the state the ledger records for a refund.
type LedgerStatus string

// The ledger statuses of the contract.
const (
	LedgerPending  LedgerStatus = "pending"
	LedgerComplete LedgerStatus = "complete"
	LedgerFailed   LedgerStatus = "failed"
)

// Valid reports whether s is one of the three ledger statuses, in lower
// case (see Normal).
func (s LedgerStatus) Valid() bool {
	return s == LedgerPending || s == LedgerComplete || s == LedgerFailed
}

// Normal returns s in lower case when that is one of the three statuses
// (the contract takes them in any letter case: COMPLETE is complete), else
// s unchanged. It allocates only for a status not already lower case.
func (s LedgerStatus) Normal() LedgerStatus {
	if s.Valid() || len(s) > len("complete") {
		return s
	}
	if l := LedgerStatus(strings.ToLower(string(s))); l.Valid() {
		return l
	}
	return s
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
	AmountNull bool
	// AmountText is the amount column's value, as read, when it is not a
	// whole number of minor units (60.5, "abc", a number beyond int64):
	// the row is invalid and Amount is 0. Empty otherwise. A numeric value
	// whose fraction is zero ("60.00") is the whole number 60.
	AmountText  string
	Currency    string
	Status      LedgerStatus
	CompletedAt time.Time
	CreatedAt   time.Time
}

// currency returns the currency in lower case, the form compared everywhere.
func (l *LedgerRefund) currency() string { return strings.ToLower(l.Currency) }

// MaxTextBytes is the longest value a ledger text column (id, customer_id,
// charge_id, payment_intent_id, gateway_refund_id, currency, status) may
// hold: Stripe's ids are at most 255 characters, and a longer value could
// not be stored or indexed as a case's field. A longer value makes its row
// invalid; the run reads it all the same.
const MaxTextBytes = 255

// Problems lists the column rules the row breaks, in the contract's words;
// empty for a valid row. validCurrency reports whether a code, in any letter
// case, is on the ISO 4217 list; nil accepts any three letters. Values are
// quoted in a bounded form: a row of any size gives a short text.
func (l *LedgerRefund) Problems(validCurrency func(code string) bool) []string {
	var p []string
	for _, c := range [...]struct{ name, v string }{
		{"id", l.ID}, {"customer_id", l.CustomerID}, {"charge_id", l.ChargeID},
		{"payment_intent_id", l.PaymentIntentID}, {"gateway_refund_id", l.GatewayRefundID},
		{"currency", l.Currency}, {"status", string(l.Status)},
	} {
		switch {
		case len(c.v) > MaxTextBytes:
			p = append(p, c.name+" is longer than "+strconv.Itoa(MaxTextBytes)+" bytes ("+strconv.Itoa(len(c.v))+" bytes)")
		case !isText(c.v):
			p = append(p, c.name+" holds bytes that are not text (NUL or invalid UTF-8)")
		}
	}
	if isBlank(l.ID) {
		p = append(p, "id is empty")
	}
	if isBlank(l.CustomerID) {
		p = append(p, "customer_id is empty")
	}
	switch {
	case l.AmountText != "":
		p = append(p, "amount "+Bounded(l.AmountText)+" is not a whole number of minor units")
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
	status := l.Status.Normal()
	if !status.Valid() {
		p = append(p, "status "+quote(string(l.Status))+" is not pending, complete or failed")
	}
	if status == LedgerComplete && l.CompletedAt.IsZero() {
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
	return !isBlank(l.ID) && !isBlank(l.CustomerID) && l.AmountText == "" && !l.AmountNull && l.Amount > 0 &&
		validCode(l.Currency, validCurrency) && l.Status.Normal().Valid() &&
		(l.Status.Normal() != LedgerComplete || !l.CompletedAt.IsZero()) && !l.CreatedAt.IsZero() &&
		l.textOK()
}

// textOK reports whether every text column is short text (see
// MaxTextBytes); currency and status are checked by their own rules.
func (l *LedgerRefund) textOK() bool {
	return shortText(l.ID) && shortText(l.CustomerID) && shortText(l.ChargeID) &&
		shortText(l.PaymentIntentID) && shortText(l.GatewayRefundID)
}

// shortText: at most MaxTextBytes of UTF-8 text without NUL. The common
// ASCII id is decided in one pass without allocating.
func shortText(s string) bool {
	if len(s) > MaxTextBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == 0 {
			return false
		} else if c >= utf8.RuneSelf {
			return isText(s[i:])
		}
	}
	return true
}

// isText: valid UTF-8 without NUL, what a PostgreSQL text column accepts.
func isText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// boundedKeep is how much of an oversized or strange value Bounded keeps.
const boundedKeep = 64

// Bounded returns s when it is short text (see MaxTextBytes), else a bounded
// form that still tells values apart: its first bytes as text (cut on a rune
// boundary, control characters and invalid bytes replaced), "…", and a hash
// of the whole value. A discrepancy holds ledger values in this form, so
// that a row of any size can be recorded, indexed and alerted on.
func Bounded(s string) string {
	if shortText(s) {
		return s
	}
	sum := sha256.Sum256([]byte(s))
	head := s
	if len(head) > boundedKeep {
		cut := boundedKeep
		for cut > 0 && !utf8.RuneStart(head[cut]) {
			cut--
		}
		head = head[:cut]
	}
	head = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '\uFFFD'
		}
		return r
	}, strings.ToValidUTF8(head, "\uFFFD"))
	return head + "…#" + hex.EncodeToString(sum[:8])
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

func quote(s string) string { return "\"" + Bounded(s) + "\"" }

// at is the time that places the row in a run's window: when it was
// completed for a complete row, else when it was requested (when it was
// completed if that is all the row says). It is zero for a row without
// timestamps, which belongs to every window (see inWindow).
func (l *LedgerRefund) at() time.Time {
	if l.Status == LedgerComplete && !l.CompletedAt.IsZero() || l.CreatedAt.IsZero() {
		return l.CompletedAt
	}
	return l.CreatedAt
}

// inWindow reports whether the row belongs to scope's window: its at()
// inside it, or no timestamp at all (the contract puts such a row in
// every window, for every run to report).
func (l *LedgerRefund) inWindow(scope Scope) bool {
	t := l.at()
	return t.IsZero() || scope.Contains(t)
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
