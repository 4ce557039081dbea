package bench

import (
	"context"
	"fmt"
	"time"

	"github.com/refundrecon/refundrecon/store"
)

// SQLResult is the SQL peer: the gateway's refunds loaded into a
// PostgreSQL table and a FULL OUTER JOIN against the ledger, the way an
// analyst would do it in a warehouse.
type SQLResult struct {
	Rows        int
	Load, Query time.Duration
	// What the query flags: ledger rows without a refund of that id, gateway
	// refunds without a ledger row naming them, and joined pairs that
	// disagree on status, amount, currency or customer.
	MissingAtGateway, MissingInLedger, Mismatched int64
}

// Total is load plus query.
func (r SQLResult) Total() time.Duration { return r.Load + r.Query }

// Flagged is every row the query flags.
func (r SQLResult) Flagged() int64 { return r.MissingAtGateway + r.MissingInLedger + r.Mismatched }

// sqlPeerQuery joins on the one key both sides usually share. A FULL JOIN
// in PostgreSQL takes only hash- or merge-joinable conditions, so the
// metadata and charge-and-amount pairings of the contract cannot be ORed
// in: rows paired that way show up as missing on both sides.
const sqlPeerQuery = `WITH l AS (
	SELECT * FROM ledger_refunds
	WHERE (completed_at >= $1 AND completed_at <= $2) OR (created_at >= $1 AND created_at <= $2)
), g AS (
	SELECT * FROM ` + gatewayTable + ` WHERE created >= $1 AND created <= $2
)
SELECT
	count(*) FILTER (WHERE g.id IS NULL AND l.status = 'complete'),
	count(*) FILTER (WHERE l.id IS NULL AND g.status IN ('succeeded', 'pending', 'requires_action')),
	count(*) FILTER (WHERE l.id IS NOT NULL AND g.id IS NOT NULL AND (
		(l.status = 'complete') <> (g.status = 'succeeded')
		OR l.amount <> g.amount OR lower(l.currency) <> g.currency
		OR l.customer_id <> g.customer_id))
FROM l FULL OUTER JOIN g ON g.id = l.gateway_refund_id`

// SQLPeer loads the data set's gateway refunds into a table with COPY, then
// runs the join over the run's window. The rows are generated before the
// clock starts: an export would already exist.
func SQLPeer(ctx context.Context, db *store.DB, d Dataset) (SQLResult, error) {
	var res SQLResult
	rows := d.gatewayRows()
	res.Rows = len(rows)
	start := time.Now()
	if err := copyGatewayRows(ctx, db.SQLX().DB, rows); err != nil {
		return res, err
	}
	if _, err := db.SQLX().ExecContext(ctx, "ANALYZE "+gatewayTable); err != nil {
		return res, fmt.Errorf("analyze %s: %w", gatewayTable, err)
	}
	res.Load = time.Since(start)
	scope := d.Scope()
	start = time.Now()
	err := db.SQLX().QueryRowContext(ctx, sqlPeerQuery, scope.Since, scope.Until).
		Scan(&res.MissingAtGateway, &res.MissingInLedger, &res.Mismatched)
	res.Query = time.Since(start)
	if err != nil {
		return res, fmt.Errorf("sql peer query: %w", err)
	}
	return res, nil
}
