package reconcile

import (
	"errors"
	"time"
)

// Review and alert sentinels. Adapters wrap them so that callers (the command
// line, the HTTP API) can branch on them.
var (
	// ErrConflict: the discrepancy's status does not allow the change (a
	// resolved case acknowledged or resolved again), or an alert's claim
	// was lost to another process.
	ErrConflict = errors.New("conflicts with the current status")
	// ErrInvalid: a request lacks what it needs (a resolve without a note,
	// a review without an actor).
	ErrInvalid = errors.New("invalid request")
)

// AlertAction is what an alert announces.
type AlertAction string

// The alert actions: a case opened (or reopened), changed, resolved (by a
// run or a person).
//
// AlertUpdated: a case that stays unresolved changed its kind, amounts,
// currencies or gateway refunds (Decide, lifecycle.go).
const (
	AlertOpened   AlertAction = "opened"
	AlertUpdated  AlertAction = "updated"
	AlertResolved AlertAction = "resolved"
)

// Type returns the action as the generic webhook's "type":
// "discrepancy.opened", "discrepancy.updated" or "discrepancy.resolved".
// AlertRunHeld's is "run.held".
func (a AlertAction) Type() string {
	if a == AlertRunHeld {
		return "run." + string(a)
	}
	return "discrepancy." + string(a)
}

// Alert is one message of the alert outbox: one discrepancy's opening or
// resolution on one channel, or, for a channel that digests, every case one
// run opened or resolved. It is written in the same transaction as the
// change it announces, and delivered after the transaction commits.
type Alert struct {
	// ID is the outbox row.
	ID int64
	// Key is unique per discrepancy, channel, action and cycle (or run,
	// channel and action for a digest): the outbox's idempotency key, also
	// the generic webhook's delivery id.
	Key     string
	Channel string
	Action  AlertAction
	// Digest is true when the alert stands for all of Discrepancies.
	Digest bool
	// DiscrepancyID is empty for a digest.
	DiscrepancyID string
	// Cycle counts the case's openings: 1 for the first, 2 after it reopened
	// once, and so on. 0 for a digest.
	Cycle int
	// Discrepancies are the case (one) or the digest's cases, as they stood
	// when the alert was enqueued.
	Discrepancies []Discrepancy
	// RunID is the run that enqueued the alert; empty for a person's
	// resolve.
	RunID string
	// Actor and Note say who made the change and why (a person's resolve).
	Actor string
	Note  string
	// CreatedAt is when the alert was enqueued.
	CreatedAt time.Time
	// Attempts counts the claims, this one included.
	Attempts int
	// Held is the held run a run.held alert (AlertRunHeld) announces (such
	// an alert has no Discrepancies); nil for every other alert.
	Held *HeldRun
	// ClaimToken proves the claim when marking the alert delivered or
	// failed.
	ClaimToken string
}
