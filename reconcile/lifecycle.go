package reconcile

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// This file is the one place that decides a discrepancy's life, after the
// contract's "Discrepancy identity and life": what a run does to each case
// it found or re-judged. The store only writes what Decide returns, in one
// transaction; the runner only gathers what Decide needs.

// CaseAction is what a run does to one case.
type CaseAction string

// The case actions. Opened, reopened, updated and resolved go into the
// case's history; refreshed only moves its last sighting.
const (
	CaseOpened    CaseAction = "opened"
	CaseReopened  CaseAction = "reopened"
	CaseUpdated   CaseAction = "updated"
	CaseRefreshed CaseAction = "refreshed"
	CaseResolved  CaseAction = "resolved"
)

// Resolution reasons a run writes into the history.
const (
	// ReasonNoLongerFound: the run judged the subject again and found no
	// problem.
	ReasonNoLongerFound = "resolved by a run: no longer a problem"
	// ReasonLedgerRowDeleted: the ledger row the case is about is gone.
	ReasonLedgerRowDeleted = "resolved by a run: ledger row deleted"
	// ReasonGatewayRefundGone: the gateway no longer knows the refund.
	ReasonGatewayRefundGone = "resolved by a run: the gateway no longer has the refund"
	// ReasonRowChanged: the id-less ledger row is no longer there as it
	// was (fixed or removed).
	ReasonRowChanged = "resolved by a run: the ledger row without an id was fixed or removed"
)

// Change is one case's change: what to store, what to write into its
// history, and which alert to send on every channel.
type Change struct {
	Action CaseAction
	// Case is the case as it is to be stored.
	Case Discrepancy
	// From is the status before the change; empty for CaseOpened.
	From Status
	// Note is the history's note: what changed, or why it resolved.
	Note string
	// Alert is the alert to send; empty for none.
	Alert AlertAction
}

// Changes is what one run does to the cases it found or re-judged.
type Changes struct {
	// Cases are the discrepancies found, as they stand after the run (id,
	// status, new, first and last sighting): the report's.
	Cases []Discrepancy
	// Changes lists every change, found cases first, then resolutions.
	Changes []Change
	// Resolved lists the ids of the cases the run resolved, sorted.
	Resolved []string
	// Held is set when the run is held (DecideRun, hold.go): the alerts of
	// Changes wait for release or discard.
	Held *HeldRun
}

// Decide decides what a run does to the cases of its scope. stored holds
// the stored cases of the subjects involved: the unresolved ones of the
// run's scope and any case (resolved too) of a subject found. found is what
// the run found. judged maps the subjects the run judged again to the
// reason their case resolves if the run did not find it; a stored open case
// whose subject is not in judged is left alone (the run did not look).
// at is when the run finished.
//
//   - A found subject without a stored case opens one (New, alert opened).
//   - One with an unresolved case keeps its id, status and first sighting;
//     if its kind, amounts, currencies or gateway refunds changed, it is
//     updated (history, alert updated), else refreshed.
//   - One whose case was resolved is reopened under the same id (alert
//     opened).
//   - A judged subject not found resolves its unresolved case (alert
//     resolved), with the reason in the history.
func Decide(at time.Time, stored, found []Discrepancy, judged map[string]string) Changes {
	bySubject := make(map[string]Discrepancy, len(stored))
	for _, d := range stored {
		subj := d.Fingerprint()
		if cur, ok := bySubject[subj]; !ok || preferStored(d, cur) {
			bySubject[subj] = d
		}
	}
	var ch Changes
	seen := make(map[string]bool, len(found))
	for _, d := range found {
		subj := d.Fingerprint()
		if seen[subj] {
			continue // a duplicated ledger row: one subject, one case
		}
		seen[subj] = true
		d.Subject = subj
		d.GatewayRefundIDs = slices.Sorted(slices.Values(d.GatewayRefundIDs))
		if d.GatewayRefundIDs == nil {
			d.GatewayRefundIDs = []string{}
		}
		d.LastSeenAt = at
		old, known := bySubject[subj]
		switch {
		case !known:
			d.ID = DiscrepancyID(subj)
			d.Status, d.New, d.FirstSeenAt = StatusOpen, true, at
			ch.Changes = append(ch.Changes, Change{Action: CaseOpened, Case: d, Alert: AlertOpened})
		case old.Status == StatusResolved:
			d.ID, d.FirstSeenAt, d.Status = old.ID, old.FirstSeenAt, StatusOpen
			ch.Changes = append(ch.Changes, Change{Action: CaseReopened, Case: d, From: StatusResolved,
				Note: "reopened by a run: the problem is back" + changedNote(old, d), Alert: AlertOpened})
		default:
			d.ID, d.FirstSeenAt, d.Status = old.ID, old.FirstSeenAt, old.Status
			if what := changed(old, d); what != "" {
				ch.Changes = append(ch.Changes, Change{Action: CaseUpdated, Case: d, From: old.Status,
					Note: what, Alert: AlertUpdated})
			} else {
				ch.Changes = append(ch.Changes, Change{Action: CaseRefreshed, Case: d, From: old.Status})
			}
		}
		ch.Cases = append(ch.Cases, d)
	}
	var resolve []Change
	for subj, d := range bySubject {
		reason, ok := judged[subj]
		if !ok || seen[subj] || d.Status == StatusResolved {
			continue
		}
		from := d.Status
		d.Status = StatusResolved
		resolve = append(resolve, Change{Action: CaseResolved, Case: d, From: from,
			Note: cmp.Or(reason, ReasonNoLongerFound), Alert: AlertResolved})
	}
	slices.SortFunc(resolve, func(a, b Change) int { return cmp.Compare(a.Case.ID, b.Case.ID) })
	for _, c := range resolve {
		ch.Resolved = append(ch.Resolved, c.Case.ID)
	}
	ch.Changes = append(ch.Changes, resolve...)
	return ch
}

// preferStored: of two stored cases of one subject (cases from before
// identity by subject), the unresolved one, else the one seen last.
func preferStored(a, b Discrepancy) bool {
	ar, br := a.Status == StatusResolved, b.Status == StatusResolved
	if ar != br {
		return !ar
	}
	return a.LastSeenAt.After(b.LastSeenAt) || (a.LastSeenAt.Equal(b.LastSeenAt) && a.ID < b.ID)
}

// changed says what changed between a stored case and what a run found,
// in the terms an alert sends: kind, amounts, currencies, gateway refunds.
// Wording alone (the detail) is not a change. Empty when nothing did.
func changed(old, d Discrepancy) string {
	var parts []string
	if old.Kind != d.Kind {
		parts = append(parts, fmt.Sprintf("kind %s → %s", old.Kind, d.Kind))
	}
	if !sameAmount(old.LedgerAmount, d.LedgerAmount) {
		parts = append(parts, fmt.Sprintf("ledger amount %s → %s", amountText(old.LedgerAmount), amountText(d.LedgerAmount)))
	}
	if !sameAmount(old.GatewayAmount, d.GatewayAmount) {
		parts = append(parts, fmt.Sprintf("gateway amount %s → %s", amountText(old.GatewayAmount), amountText(d.GatewayAmount)))
	}
	if old.Currency != d.Currency {
		parts = append(parts, fmt.Sprintf("currency %s → %s", orNone(old.Currency), orNone(d.Currency)))
	}
	if old.GatewayCurrency != d.GatewayCurrency && old.GatewayCurrency != "" {
		parts = append(parts, fmt.Sprintf("gateway currency %s → %s", orNone(old.GatewayCurrency), orNone(d.GatewayCurrency)))
	}
	oldIDs := slices.Sorted(slices.Values(old.GatewayRefundIDs))
	if !slices.Equal(oldIDs, d.GatewayRefundIDs) && !(len(oldIDs) == 0 && len(d.GatewayRefundIDs) == 0) {
		parts = append(parts, fmt.Sprintf("gateway refunds %s → %s", orNone(strings.Join(oldIDs, ",")), orNone(strings.Join(d.GatewayRefundIDs, ","))))
	}
	return strings.Join(parts, "; ")
}

// changedNote is changed as a suffix of another note.
func changedNote(old, d Discrepancy) string {
	if what := changed(old, d); what != "" {
		return " (" + what + ")"
	}
	return ""
}

func sameAmount(a, b *int64) bool {
	return (a == nil) == (b == nil) && (a == nil || *a == *b)
}

func amountText(p *int64) string {
	if p == nil {
		return "none"
	}
	return strconv.FormatInt(*p, 10)
}

func orNone(s string) string { return cmp.Or(s, "none") }
