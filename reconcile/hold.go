package reconcile

import (
	"strconv"
	"time"
)

// This file decides when a run is held (ALERT_HOLD_NEW): a run that opens
// far more new cases than usual is most likely a misconfigured ledger query
// or a first run over a backlog, not a night of real trouble. Its cases are
// recorded as usual, but their alerts wait for a person's release (sent
// then, once each) or discard (never sent); one run.held alert per channel
// says so instead.

// RunHeld is the status of a run whose alerts wait for release or discard.
// The store keeps such a run succeeded (it did read and judge everything)
// and reports it held while it waits.
const RunHeld RunStatus = "held"

// AlertRunHeld announces a held run (webhook type "run.held"): one per
// channel, instead of the run's cases' alerts.
const AlertRunHeld AlertAction = "held"

// The defaults of ALERT_HOLD_NEW.
const (
	// DefaultHoldShare is the share of the refunds in scope a run may open
	// as new cases without being held.
	DefaultHoldShare = 0.05
	// DefaultHoldMin is the fewest new cases that can hold a run.
	DefaultHoldMin = 20
)

// HoldPolicy says when a run is held. The zero value never holds.
type HoldPolicy struct {
	// Share is ALERT_HOLD_NEW: a share of the refunds in scope, 0 to 1.
	Share float64
	// Min is the fewest new cases that hold a run; 0 disables holding.
	Min int
}

// DefaultHold is the contract's policy: more new cases than 5% of the
// refunds in scope, and at least 20.
var DefaultHold = HoldPolicy{Share: DefaultHoldShare, Min: DefaultHoldMin}

// Holds reports whether a run that opened newCases new discrepancies over
// refunds refunds in scope is held: more than Share of refunds, and at
// least Min.
func (p HoldPolicy) Holds(newCases, refunds int) bool {
	if p.Min <= 0 || newCases < p.Min {
		return false
	}
	return float64(newCases) > p.Share*float64(refunds)
}

// RefundsInScope counts the distinct refunds a run judged: its ledger
// refunds plus the gateway refunds no ledger refund matched (a matched pair
// is one refund). Never less than either side alone.
func (c Counts) RefundsInScope() int {
	return max(c.LedgerRefunds+c.GatewayRefunds-c.Matched, c.LedgerRefunds, c.GatewayRefunds)
}

// HeldRun is what a run.held alert says, and what a held run waits with.
type HeldRun struct {
	RunID            string `json:"run_id"`
	NewDiscrepancies int    `json:"new_discrepancies"`
	RefundsInScope   int    `json:"refunds_in_scope"`
}

// NewCases counts the cases the changes open for the first time (not
// reopenings): the new discrepancies of the run.
func (ch Changes) NewCases() int {
	n := 0
	for _, c := range ch.Changes {
		if c.Action == CaseOpened {
			n++
		}
	}
	return n
}

// DecideRun is Decide for a finished run, with its hold: when run.Hold
// holds the run's new cases against its refunds in scope (a window run: a
// customer check is never held), the changes are
// Held, and their alerts wait (the store enqueues them held, and one
// run.held alert per channel).
func DecideRun(run Run, at time.Time, stored, found []Discrepancy, judged map[string]string) Changes {
	ch := Decide(at, stored, found, judged)
	if run.Scope.CustomerID != "" {
		return ch // a customer check is asked for, and answers at once
	}
	refunds := run.Counts.RefundsInScope()
	if n := ch.NewCases(); run.Hold.Holds(n, refunds) {
		ch.Held = &HeldRun{RunID: run.ID, NewDiscrepancies: n, RefundsInScope: refunds}
	}
	return ch
}

// HoldState is where a held run stands.
type HoldState string

// The hold states: waiting, or ended by a person.
const (
	HoldWaiting   HoldState = "held"
	HoldReleased  HoldState = "released"
	HoldDiscarded HoldState = "discarded"
)

// Hold is a run's hold, for the runs listing and the page: how many new
// cases it held, and who ended it when.
type Hold struct {
	State            HoldState
	NewDiscrepancies int
	RefundsInScope   int
	// By, At and Note say who released or discarded the run; empty while
	// it waits.
	By   string
	At   time.Time
	Note string
}

// HoldEnded is what a release or discard did.
type HoldEnded struct {
	Run HeldRun
	// Alerts counts the alerts released (release) or dropped (discard).
	Alerts int
	// Resolved lists the cases a discard resolved, sorted.
	Resolved []string
	// Already is set when the run's hold had ended before (a second
	// release): nothing was done, and Hold says by whom and when.
	Already *Hold
}

// ReleaseNote and DiscardNote are the history notes of a release and a
// discard (a discard's cases get the person's note).
const (
	ReleaseNote = "alerts of the held run released"
)

// HeldMessage is the sentence a run.held alert and the page say: how many
// cases wait and how to release or discard them.
func (h HeldRun) HeldMessage() string {
	return "Run " + h.RunID + " opened " + strconv.Itoa(h.NewDiscrepancies) + " new discrepancies over " + strconv.Itoa(h.RefundsInScope) +
		" refunds in scope, more than ALERT_HOLD_NEW allows: their alerts are held. Check the ledger query " +
		"(refundrecon ledger check), then send them with `refundrecon release " + h.RunID + " --by NAME` " +
		"or drop them and resolve the cases with `refundrecon discard " + h.RunID + " --by NAME --note TEXT`."
}
