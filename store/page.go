package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// PageQuery selects one page of cases for the review page. Zero fields
// select everything.
type PageQuery struct {
	Statuses   []reconcile.Status
	Kind       reconcile.Kind
	CustomerID string
	// Since and Until bound first_seen_at.
	Since, Until time.Time
	// MinAmount keeps cases whose larger side is at least this many minor
	// units of their currency, per currency (a minimum of 50 dollars is
	// 5000 for usd and 50 for jpy): the caller converts.
	MinAmount map[string]int64
	Limit     int
	Offset    int
}

// Page returns the cases q selects, newest first, and how many there are in
// all. Filtering, counting and paging happen in the database, so a page of
// 50 out of 20,000 costs two indexed queries.
func (db *DB) Page(ctx context.Context, q PageQuery) ([]reconcile.Discrepancy, int, error) {
	b := newBinder(db.dialect)
	var where []string
	if len(q.Statuses) > 0 {
		statuses := make([]string, len(q.Statuses))
		for i, s := range q.Statuses {
			statuses[i] = string(s)
		}
		where = append(where, "status IN ("+b.list(statuses)+")")
	}
	if q.Kind != "" {
		where = append(where, "kind = "+b.add(string(q.Kind)))
	}
	if q.CustomerID != "" {
		where = append(where, "customer_id = "+b.add(q.CustomerID))
	}
	if !q.Since.IsZero() {
		where = append(where, "first_seen_at >= "+b.add(db.timeArg(q.Since)))
	}
	if !q.Until.IsZero() {
		where = append(where, "first_seen_at <= "+b.add(db.timeArg(q.Until)))
	}
	if len(q.MinAmount) > 0 {
		var ors []string
		for cur, min := range q.MinAmount {
			ors = append(ors, "(currency = "+b.add(cur)+" AND COALESCE(CASE WHEN COALESCE(ledger_amount, 0) > COALESCE(gateway_amount, 0) "+
				"THEN ledger_amount ELSE gateway_amount END, 0) >= "+b.add(min)+")")
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	cond := ""
	if len(where) > 0 {
		cond = " WHERE " + strings.Join(where, " AND ")
	}
	var total int
	if err := db.db.GetContext(ctx, &total, "SELECT count(*) FROM discrepancies"+cond, b.args...); err != nil {
		return nil, 0, fmt.Errorf("count discrepancies: %w", err)
	}
	limit := q.Limit
	if limit <= 0 || limit > 1000 {
		limit = 50
	}
	query := "SELECT " + discrepancyColumns + " FROM discrepancies" + cond +
		" ORDER BY first_seen_at DESC, id LIMIT " + b.add(limit) + " OFFSET " + b.add(max(q.Offset, 0))
	var rows []discrepancyRow
	if err := db.db.SelectContext(ctx, &rows, query, b.args...); err != nil {
		return nil, 0, fmt.Errorf("page discrepancies: %w", err)
	}
	out := make([]reconcile.Discrepancy, len(rows))
	for i, r := range rows {
		out[i] = r.discrepancy()
	}
	return out, total, nil
}

// Currencies lists the currencies cases are held in, for the page's amount
// filter.
func (db *DB) Currencies(ctx context.Context) ([]string, error) {
	var out []string
	err := db.db.SelectContext(ctx, &out, "SELECT DISTINCT currency FROM discrepancies WHERE currency IS NOT NULL ORDER BY currency")
	if err != nil {
		return nil, fmt.Errorf("list currencies: %w", err)
	}
	return out, nil
}
