// Package bench is the performance harness of refundrecon, for developers:
// it generates a deterministic ledger and Stripe account of any size with
// about 1% planted discrepancies of every kind, loads the ledger into
// PostgreSQL with COPY and the gateway side into a fake Stripe running in a
// process of its own, runs one full reconciliation through the real path in
// another process (so that its peak memory is its own), and sets two peers
// beside it on the same data: a naive script making one look-up per ledger
// row, and an analyst's FULL OUTER JOIN in SQL.
//
// It imports every adapter, like cmd/refundrecon, and is imported only by
// cmd/refundrecon-bench; the shipped binary never links it.
package bench
