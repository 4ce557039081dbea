package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// DefaultLedgerQuery reads the contract's ledger_refunds table: the rows
// completed or created inside [:since, :until], and the rows without any
// timestamp (the contract puts them in every window, for every run to
// report as invalid), of :customer_id unless it is NULL. A custom
// LEDGER_QUERY follows the same pattern; the CAST lets PostgreSQL type a
// parameter that is NULL:
//
//	(CAST(:customer_id AS text) IS NULL OR customer_id = :customer_id)
const DefaultLedgerQuery = `SELECT id, customer_id, charge_id, payment_intent_id, gateway_refund_id,
	amount, currency, status, completed_at, created_at
FROM ledger_refunds
WHERE ((completed_at >= :since AND completed_at <= :until)
	OR (created_at >= :since AND created_at <= :until)
	OR (completed_at IS NULL AND created_at IS NULL))
	AND (CAST(:customer_id AS text) IS NULL OR customer_id = :customer_id)`

// ledgerColumns are the columns a ledger query must return, in the
// contract's order.
var ledgerColumns = []string{
	"id", "customer_id", "charge_id", "payment_intent_id", "gateway_refund_id",
	"amount", "currency", "status", "completed_at", "created_at",
}

// Ledger reads ledger refunds with a LEDGER_QUERY. It implements
// reconcile.Ledger on PostgreSQL and SQLite.
//
// The query may use the named parameters :since, :until (timestamps) and
// :customer_id (text, NULL when a run covers every customer). Parameters are
// written in sqlx's :name style; a PostgreSQL cast such as
// :since::timestamptz or completed_at::timestamptz is kept as it is. On
// SQLite the timestamps are bound as text in the store's layout
// (2006-01-02T15:04:05.000000Z), so the ledger's timestamps compare
// correctly only when written the same way.
type Ledger struct {
	db    *DB
	query string
	// Timeout bounds each statement, streaming its rows included; zero
	// leaves it to ctx.
	Timeout time.Duration
}

var _ reconcile.Ledger = (*Ledger)(nil)

// NewLedger returns the ledger that db answers with query, the contract's
// LEDGER_QUERY; an empty query is DefaultLedgerQuery.
func NewLedger(db *DB, query string) *Ledger {
	query = strings.TrimSpace(query)
	for strings.HasSuffix(query, ";") {
		query = strings.TrimSpace(strings.TrimSuffix(query, ";"))
	}
	if query == "" {
		query = DefaultLedgerQuery
	}
	return &Ledger{db: db, query: query}
}

// Refunds calls fn for each ledger refund q selects, streaming the rows.
//
// A query in a window binds :since (a zero Since is the far past), :until and
// :customer_id. A keyed query (q.Keyed()) runs the ledger query over all of
// history and every customer as a subquery, filtered by the keys, at most
// 1000 keys per statement; a row found by an earlier statement is not passed
// again.
//
// A query lacking a required column fails with an error wrapping
// reconcile.ErrConfig that names the missing columns, and so does a query
// using an unknown parameter. Values are read leniently (NULL text is "",
// NULL amount sets AmountNull, an amount that is not a whole number sets
// AmountText, NULL or unreadable time is zero) and whatever their size: a
// row with bad values is still passed to fn, for the reconciler to report. An error of fn stops the reading and is returned as it is.
func (l *Ledger) Refunds(ctx context.Context, q reconcile.LedgerQuery, fn func(reconcile.LedgerRefund) error) error {
	if !q.Keyed() {
		since, until := q.Since, q.Until
		if since.IsZero() {
			since = farPast
		}
		if until.IsZero() {
			until = farFuture
		}
		b := newBinder(l.db.dialect)
		query, err := b.bindNamed(l.query, l.params(since, until, q.CustomerID))
		if err != nil {
			return fmt.Errorf("ledger query: %w", err)
		}
		return l.stream(ctx, query, b.args, fn)
	}

	emitted := map[string]bool{} // ids passed by earlier statements
	for _, batch := range keyBatches(q, idBatch) {
		b := newBinder(l.db.dialect)
		inner, err := b.bindNamed(l.query, l.params(farPast, farFuture, ""))
		if err != nil {
			return fmt.Errorf("ledger query: %w", err)
		}
		var conds []string
		for _, k := range batch {
			conds = append(conds, "ledger."+k.column+" IN ("+b.list(k.values)+")")
		}
		query := "SELECT ledger.* FROM (\n" + inner + "\n) ledger\nWHERE " + strings.Join(conds, "\n\tOR ")
		var now []string
		err = l.stream(ctx, query, b.args, func(r reconcile.LedgerRefund) error {
			if emitted[r.ID] {
				return nil
			}
			now = append(now, r.ID)
			return fn(r)
		})
		if err != nil {
			if perr := l.probe(ctx, err); perr != nil {
				return perr
			}
			return err
		}
		for _, id := range now {
			emitted[id] = true
		}
	}
	return nil
}

// params are the named parameters of the ledger query.
func (l *Ledger) params(since, until time.Time, customerID string) map[string]any {
	return map[string]any{
		"since":       l.db.timeArg(since),
		"until":       l.db.timeArg(until),
		"customer_id": nullString(customerID),
	}
}

// probe explains a keyed query's failure: when the ledger query lacks a
// column the keys filter on, the database's own error says less than
// missingColumns. It returns nil when it has nothing better than failed.
func (l *Ledger) probe(ctx context.Context, failed error) error {
	if ctx.Err() != nil {
		return nil
	}
	b := newBinder(l.db.dialect)
	inner, err := b.bindNamed(l.query, l.params(farPast, farFuture, ""))
	if err != nil {
		return nil
	}
	rows, err := l.db.db.QueryContext(ctx, "SELECT * FROM (\n"+inner+"\n) ledger WHERE 1 = 0", b.args...)
	if err != nil {
		return nil
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return nil
	}
	if _, _, err := newLedgerScan(cols); err != nil {
		return fmt.Errorf("%w (the database said: %v)", err, failed)
	}
	return nil
}

// stream runs query and calls fn per row.
func (l *Ledger) stream(ctx context.Context, query string, args []any, fn func(reconcile.LedgerRefund) error) error {
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	rows, err := l.db.db.QueryContext(ctx, query, args...)
	if err != nil {
		if terr := l.missingLedgerTable(err); terr != err {
			return terr
		}
		return fmt.Errorf("run ledger query: %w", err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return fmt.Errorf("run ledger query: %w", err)
	}
	row, targets, err := newLedgerScan(cols)
	if err != nil {
		return err
	}
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return fmt.Errorf("read ledger row: %w", err)
		}
		if err := fn(row.refund()); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read ledger rows: %w", err)
	}
	return nil
}

// ledgerScan receives one ledger row.
type ledgerScan struct {
	id, customerID, chargeID, paymentIntentID, gatewayRefundID looseString
	currency, status                                           looseString
	amount                                                     looseAmount
	completedAt, createdAt                                     looseTime
}

// newLedgerScan maps the result columns (by name, any order, any case) to
// scan targets; extra columns are dropped. Missing required columns are an
// error wrapping reconcile.ErrConfig that names them.
func newLedgerScan(cols []string) (*ledgerScan, []any, error) {
	r := &ledgerScan{}
	byName := map[string]any{
		"id": &r.id, "customer_id": &r.customerID, "charge_id": &r.chargeID,
		"payment_intent_id": &r.paymentIntentID, "gateway_refund_id": &r.gatewayRefundID,
		"amount": &r.amount, "currency": &r.currency, "status": &r.status,
		"completed_at": &r.completedAt, "created_at": &r.createdAt,
	}
	targets := make([]any, len(cols))
	got := map[string]bool{}
	for i, c := range cols {
		name := strings.ToLower(c)
		if t, ok := byName[name]; ok && !got[name] {
			targets[i] = t
			got[name] = true
			continue
		}
		targets[i] = &discard{}
	}
	var missing []string
	for _, c := range ledgerColumns {
		if !got[c] {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, nil, fmt.Errorf("ledger query does not return the column(s) %s (it returns %s): %w",
			strings.Join(missing, ", "), strings.Join(cols, ", "), reconcile.ErrConfig)
	}
	return r, targets, nil
}

func (r *ledgerScan) refund() reconcile.LedgerRefund {
	return reconcile.LedgerRefund{
		ID:              r.id.s,
		CustomerID:      r.customerID.s,
		ChargeID:        r.chargeID.s,
		PaymentIntentID: r.paymentIntentID.s,
		GatewayRefundID: r.gatewayRefundID.s,
		Amount:          r.amount.n,
		AmountNull:      r.amount.null,
		AmountText:      r.amount.text,
		Currency:        r.currency.s,
		Status:          reconcile.LedgerStatus(r.status.s),
		CompletedAt:     r.completedAt.Time,
		CreatedAt:       r.createdAt.Time,
	}
}

// keyList is one column's keys in one statement.
type keyList struct {
	column string
	values []string
}

// keyBatches splits the keys of q into statements of at most size keys,
// dropping empty and repeated keys.
func keyBatches(q reconcile.LedgerQuery, size int) [][]keyList {
	var batches [][]keyList
	var cur []keyList
	n := 0
	for _, k := range []keyList{
		{"id", q.IDs},
		{"gateway_refund_id", q.GatewayRefundIDs},
		{"charge_id", q.ChargeIDs},
		{"payment_intent_id", q.PaymentIntentIDs},
	} {
		vals := slices.Compact(slices.Sorted(slices.Values(k.values)))
		if len(vals) > 0 && vals[0] == "" {
			vals = vals[1:]
		}
		for len(vals) > 0 {
			take := min(size-n, len(vals))
			cur = append(cur, keyList{k.column, vals[:take]})
			vals = vals[take:]
			n += take
			if n == size {
				batches = append(batches, cur)
				cur, n = nil, 0
			}
		}
	}
	if n > 0 {
		batches = append(batches, cur)
	}
	return batches
}

// InsertLedgerRefunds writes rows to the ledger_refunds table, for tests,
// the demo and benchmarks: COPY in a transaction on PostgreSQL, prepared
// multi-row INSERTs in a transaction on SQLite. Nulls are kept: an empty
// charge_id, payment_intent_id or gateway_refund_id, a zero time and
// AmountNull are written as NULL.
func (db *DB) InsertLedgerRefunds(ctx context.Context, rows []reconcile.LedgerRefund) error {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("insert ledger refunds: %w", err)
	}
	defer tx.Rollback()
	values := func(r reconcile.LedgerRefund) []any {
		var amount any = r.Amount
		if r.AmountNull {
			amount = nil
		}
		return []any{
			r.ID, r.CustomerID, nullString(r.ChargeID), nullString(r.PaymentIntentID),
			nullString(r.GatewayRefundID), amount, r.Currency, string(r.Status),
			db.nullTimeArg(r.CompletedAt), db.nullTimeArg(r.CreatedAt),
		}
	}
	cols := strings.Join(ledgerColumns, ", ")
	if db.dialect == DialectPostgres {
		stmt, err := tx.PrepareContext(ctx, "COPY ledger_refunds ("+cols+") FROM STDIN")
		if err != nil {
			return fmt.Errorf("insert ledger refunds: %w", err)
		}
		defer stmt.Close()
		for _, r := range rows {
			if _, err := stmt.ExecContext(ctx, values(r)...); err != nil {
				return fmt.Errorf("insert ledger refunds: %w", err)
			}
		}
		if _, err := stmt.ExecContext(ctx); err != nil { // flushes the COPY
			return fmt.Errorf("insert ledger refunds: %w", err)
		}
		if err := stmt.Close(); err != nil {
			return fmt.Errorf("insert ledger refunds: %w", err)
		}
	} else {
		const batch = 500 // 10 columns: 5000 parameters a statement
		insert := func(n int) string {
			row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(ledgerColumns)), ", ") + ")"
			return "INSERT INTO ledger_refunds (" + cols + ") VALUES " +
				strings.TrimSuffix(strings.Repeat(row+", ", n), ", ")
		}
		var full *sql.Stmt // prepared once, for every full batch
		for chunk := range slices.Chunk(rows, batch) {
			args := make([]any, 0, len(chunk)*len(ledgerColumns))
			for _, r := range chunk {
				args = append(args, values(r)...)
			}
			if len(chunk) < batch {
				_, err = tx.ExecContext(ctx, insert(len(chunk)), args...)
			} else {
				if full == nil {
					if full, err = tx.PrepareContext(ctx, insert(batch)); err != nil {
						return fmt.Errorf("insert ledger refunds: %w", err)
					}
					defer full.Close()
				}
				_, err = full.ExecContext(ctx, args...)
			}
			if err != nil {
				return fmt.Errorf("insert ledger refunds: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("insert ledger refunds: %w", err)
	}
	return nil
}
