// Package store keeps refundrecon's state in SQL and reads the ledger: it
// owns the runs, discrepancies and discrepancy_events tables, their
// migrations (embedded, one goose directory per dialect), the optional
// ledger_refunds table and the ledger reader that runs LEDGER_QUERY.
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
