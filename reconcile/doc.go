// Package reconcile is refundrecon's domain: ledger and gateway refunds, the
// matcher, the classifier that turns a match into discrepancies, Decide (the
// one function that decides a discrepancy's life: opened, updated, reopened,
// resolved, and which alerts), and the run that ties a Ledger, a Gateway and
// a Store together.
//
// It imports the standard library only (a test enforces it): no stripe-go,
// no database driver, no net/http. Adapters live in their own packages and
// convert to and from these types at their boundary, so the whole matching
// logic runs in microseconds in tests.
package reconcile
