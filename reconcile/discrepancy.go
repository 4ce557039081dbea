package reconcile

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strings"
	"time"
)

// Kind names a discrepancy, in the contract's exact strings.
type Kind string

// The discrepancy kinds, in order of precedence: where several apply to one
// refund, the first wins and the rest go into the detail.
const (
	MissingAtGateway      Kind = "missing_at_gateway"
	GatewayFailed         Kind = "gateway_failed"
	GatewayCanceled       Kind = "gateway_canceled"
	DuplicateAtGateway    Kind = "duplicate_at_gateway"
	GatewayPendingTooLong Kind = "gateway_pending_too_long"
	CurrencyMismatch      Kind = "currency_mismatch"
	AmountMismatch        Kind = "amount_mismatch"
	CustomerMismatch      Kind = "customer_mismatch"
	LedgerNotComplete     Kind = "ledger_not_complete"
	MissingInLedger       Kind = "missing_in_ledger"
	InvalidLedgerRow      Kind = "invalid_ledger_row"
)

// Kinds lists every kind in order of precedence.
var Kinds = []Kind{
	MissingAtGateway, GatewayFailed, GatewayCanceled, DuplicateAtGateway,
	GatewayPendingTooLong, CurrencyMismatch, AmountMismatch, CustomerMismatch,
	LedgerNotComplete, MissingInLedger, InvalidLedgerRow,
}

// Valid reports whether k is one of the contract's kinds.
func (k Kind) Valid() bool { return slices.Contains(Kinds, k) }

// Status is where a discrepancy stands in review.
type Status string

// The review statuses.
const (
	StatusOpen         Status = "open"
	StatusAcknowledged Status = "acknowledged"
	StatusResolved     Status = "resolved"
)

// Discrepancy is one mismatch between the ledger and the gateway: one per
// ledger refund, or per gateway refund no ledger refund matches. It is data,
// not an error.
type Discrepancy struct {
	// ID is stable: derived from the subject, so every run that sees a
	// problem of the same refund names it the same way, whatever its kind.
	ID     string
	Kind   Kind
	Status Status
	// New is true the first time a run sees the discrepancy.
	New            bool
	CustomerID     string
	LedgerRefundID string
	// GatewayRefundIDs lists every matched gateway refund, sorted; never nil.
	GatewayRefundIDs []string
	ChargeID         string
	// Currency is the ledger's, lower case (the gateway's when the ledger
	// has none); GatewayCurrency is the gateway's, which differs on a
	// currency_mismatch.
	Currency        string
	GatewayCurrency string
	// LedgerAmount and GatewayAmount are minor units; nil when there is no
	// such side.
	LedgerAmount  *int64
	GatewayAmount *int64
	GatewayStatus GatewayStatus
	FailureReason string
	Detail        string
	FirstSeenAt   time.Time
	LastSeenAt    time.Time

	// PaymentIntentID is the refunded payment intent, when either side
	// names it (for search; not part of the JSON report).
	PaymentIntentID string
	// RefundAt is the refund's own date: the ledger's completed_at (created
	// for a row not complete), else the gateway refund's created. Zero when
	// neither side has one.
	RefundAt time.Time
	// ProblemSince is when the problem began: when the gateway failed the
	// refund for gateway_failed, else the refund's date. The page's ages
	// count from it; zero when unknown (then first_seen_at stands in).
	ProblemSince time.Time

	// Subject is what the discrepancy is about, its identity (see
	// Fingerprint): set by the classifier, kept by the store. Not part of
	// the contract's JSON.
	Subject string
	// rowKey tells apart invalid ledger rows that have no id.
	rowKey string
}

// Fingerprint identifies the discrepancy by its subject, as the contract's
// "Discrepancy identity and life" says: "ledger:" and the ledger refund id;
// else, for a gateway refund no ledger refund matches, "gateway:" and its
// id; else, for a ledger row without an id, "row:" and the row's content.
// Kind, amounts and wording are not part of it, so a problem that changes
// shape stays one case. A stored Subject wins.
func (d *Discrepancy) Fingerprint() string {
	switch {
	case d.Subject != "":
		return d.Subject
	case d.LedgerRefundID != "":
		return "ledger:" + d.LedgerRefundID
	case d.rowKey != "":
		return "row:" + d.rowKey
	default:
		return "gateway:" + strings.Join(d.GatewayRefundIDs, ",")
	}
}

// DiscrepancyID derives the stable id of a fingerprint.
func DiscrepancyID(fingerprint string) string {
	sum := sha256.Sum256([]byte(fingerprint))
	return "dsc_" + hex.EncodeToString(sum[:12])
}
