package reconcile

import "errors"

// ErrLocked: another reconciliation holds the reconciliation lock, in this
// process or another one sharing the database. Only one run at a time may
// write discrepancies: a run working from an older snapshot of the gateway
// would otherwise resolve a case that a newer run has just opened. Callers
// skip (the schedule), wait and retry (a customer check), or exit 1 saying so
// (refundrecon run).
var ErrLocked = errors.New("another reconciliation is running")
