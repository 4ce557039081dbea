// Package store keeps refundrecon's state in SQL and reads the ledger: it
// owns the runs, discrepancies and discrepancy_events tables, the alert
// outbox (outbox.go), the reconciliation lock and its fence (lock.go), their
// migrations (embedded, one goose directory per dialect), the optional
// ledger_refunds table and the ledger reader that runs LEDGER_QUERY.
//
// It decides nothing about a discrepancy's life: FinishRun hands the stored
// cases to reconcile.Decide and writes the changes it returns (cases,
// history, alerts) in one transaction, after checking the run's fence.
//
// It speaks PostgreSQL through lib/pq and SQLite through modernc.org/sqlite
// (pure Go, no cgo), both behind sqlx. It imports reconcile and the database
// packages only: never gateway, alert, report, web or any other adapter.
// Driver errors stay here; sql.ErrNoRows becomes reconcile.ErrNotFound and a
// bad URL or ledger query wraps reconcile.ErrConfig.
//
// Timestamps are stored in UTC with microsecond precision: timestamptz on
// PostgreSQL, and on SQLite text in the fixed, lexicographically sortable
// form 2006-01-02T15:04:05.000000Z, so that text comparison is time order.
package store
