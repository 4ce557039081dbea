package reconcile

import "time"

// RunStatus is the outcome of a run.
type RunStatus string

// The run statuses.
const (
	RunRunning   RunStatus = "running"
	RunSucceeded RunStatus = "succeeded"
	RunFailed    RunStatus = "failed"
)

// Scope is what a run covers: the ledger refunds completed (for rows not
// complete: created) inside [Since, Until], the gateway refunds created
// inside it, and older refunds the gateway failed inside it. A zero Since is
// the whole history (the on-demand customer check). CustomerID, when set,
// narrows the run to one customer.
type Scope struct {
	Since, Until time.Time
	CustomerID   string
}

// Contains reports whether t falls inside the scope's window.
func (s Scope) Contains(t time.Time) bool {
	return !t.Before(s.Since) && !t.After(s.Until)
}

// Counts summarises a run.
type Counts struct {
	LedgerRefunds  int
	GatewayRefunds int
	Matched        int
	Discrepancies  int
}

// Run is one reconciliation.
type Run struct {
	ID         string
	Scope      Scope
	StartedAt  time.Time
	FinishedAt time.Time
	Status     RunStatus
	Counts     Counts
	// Error says why a failed run did not finish.
	Error string
	// Fence is the lock the run holds, checked when it records its outcome.
	Fence Fence
	// Hold is the policy that holds the run's alerts when it opens too many
	// new cases (hold.go); the zero value never holds.
	Hold HoldPolicy
	// Held is the run's hold as stored, for listings; nil for a run never
	// held.
	Held *Hold
	// DryRun: the run records nothing and sends nothing (dryrun.go).
	DryRun bool
}

// Report is a run and every discrepancy found in its scope, new or known.
type Report struct {
	Run           Run
	Discrepancies []Discrepancy
	// Resolved lists the ids of the discrepancies this run resolved.
	Resolved []string
	// Timings says where the run spent its time.
	Timings Timings
	// Refunds are the outcomes of a customer check, one per refund in its
	// scope, fine or not, for its verdict; nil for a window run. They are
	// not part of the JSON report.
	Refunds []RefundOutcome
}
