package reconcile

import "errors"

// ErrLocked: another reconciliation holds the reconciliation lock, in this
// process or another one sharing the database. Only one run at a time may
// write discrepancies: a run working from an older snapshot of the gateway
// would otherwise resolve a case that a newer run has just opened. Callers
// skip (the schedule), wait and retry (a customer check), or exit 1 saying so
// (refundrecon run).
var ErrLocked = errors.New("another reconciliation is running")

// ErrFenced: the run may no longer record its outcome. Either it lost the
// reconciliation lock while it worked (its database session died, its lease
// was taken over) and another holder took it, or another process has
// already recorded the run as failed. Nothing of the run is recorded.
var ErrFenced = errors.New("the run lost the reconciliation lock")

// Fence is the proof a run carries that it still holds the reconciliation
// lock: the lock's name and the generation it got when it took it. Every
// taking of the lock bumps the generation, so an older holder's fence no
// longer matches; the store checks it in the same transaction that records
// the outcome. The zero Fence checks no lock (tests, the demo).
type Fence struct {
	Lock  string
	Token int64
}
