package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/refundrecon/refundrecon/reconcile"
)

// The mirror of the gateway's refunds (reconcile.Mirror): the table
// gateway_refunds, one row per refund id, and sync_cursors. The sync decides
// what to write and when; the store writes each batch in one transaction.

var _ reconcile.Mirror = (*DB)(nil)

const refundColumns = `id, charge_id, payment_intent_id, customer_id, amount, currency, status, ` +
	`failure_reason, ledger_refund_id, created, failed_at`

// An empty charge, payment intent or customer keeps the stored one: an
// event's refund names its charge without expanding it.
const upsertRefunds = ` ON CONFLICT (id) DO UPDATE SET
	charge_id = CASE WHEN excluded.charge_id <> '' THEN excluded.charge_id ELSE gateway_refunds.charge_id END,
	payment_intent_id = CASE WHEN excluded.payment_intent_id <> '' THEN excluded.payment_intent_id ELSE gateway_refunds.payment_intent_id END,
	customer_id = CASE WHEN excluded.customer_id <> '' THEN excluded.customer_id ELSE gateway_refunds.customer_id END,
	amount = excluded.amount, currency = excluded.currency, status = excluded.status,
	failure_reason = excluded.failure_reason, ledger_refund_id = excluded.ledger_refund_id,
	created = excluded.created,
	failed_at = CASE WHEN excluded.failed_at <> 0 THEN excluded.failed_at ELSE gateway_refunds.failed_at END`

// SyncCursor returns the sync cursor named name; ok is false when there is
// none.
func (db *DB) SyncCursor(ctx context.Context, name string) (reconcile.SyncCursor, bool, error) {
	var row struct {
		SyncedAt    int64 `db:"synced_at"`
		FullAt      int64 `db:"full_at"`
		CoveredFrom int64 `db:"covered_from"`
	}
	err := db.db.GetContext(ctx, &row, db.db.Rebind(`SELECT synced_at, full_at, covered_from FROM sync_cursors WHERE name = ?`), name)
	if errors.Is(err, sql.ErrNoRows) {
		return reconcile.SyncCursor{}, false, nil
	}
	if err != nil {
		return reconcile.SyncCursor{}, false, fmt.Errorf("get sync cursor %q: %w", name, err)
	}
	return reconcile.SyncCursor{
		SyncedAt: time.UnixMicro(row.SyncedAt).UTC(),
		FullAt:   time.UnixMicro(row.FullAt).UTC(),
		From:     time.UnixMicro(row.CoveredFrom).UTC(),
	}, true, nil
}

// SaveRefunds inserts or replaces refunds by id and, when cursor is not nil,
// writes the cursor named name, all in one transaction. refunds must not
// repeat an id.
func (db *DB) SaveRefunds(ctx context.Context, name string, refunds []reconcile.GatewayRefund, cursor *reconcile.SyncCursor) error {
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return fmt.Errorf("save mirrored refunds: %w", err)
	}
	defer func() { _ = tx.Rollback() }()
	if db.dialect == DialectPostgres {
		err = db.copyRefunds(ctx, tx, refunds)
	} else {
		err = db.insertRefunds(ctx, tx, refunds)
	}
	if err != nil {
		return fmt.Errorf("save mirrored refunds: %w", err)
	}
	if cursor != nil {
		_, err := tx.ExecContext(ctx, db.db.Rebind(`INSERT INTO sync_cursors (name, synced_at, full_at, covered_from)
			VALUES (?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET synced_at = excluded.synced_at,
			full_at = excluded.full_at, covered_from = excluded.covered_from`),
			name, cursor.SyncedAt.UnixMicro(), cursor.FullAt.UnixMicro(), cursor.From.UnixMicro())
		if err != nil {
			return fmt.Errorf("save sync cursor %q: %w", name, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("save mirrored refunds: %w", err)
	}
	return nil
}

// refundValues are a refund's columns, in refundColumns' order.
func refundValues(r *reconcile.GatewayRefund) []any {
	var failed int64
	if !r.FailedAt.IsZero() {
		failed = r.FailedAt.Unix()
	}
	return []any{r.ID, r.ChargeID, r.PaymentIntentID, r.CustomerID, r.Amount, r.Currency,
		string(r.Status), r.FailureReason, r.LedgerRefundID, r.Created.Unix(), failed}
}

// insertRefunds upserts with multi-row INSERTs (SQLite).
func (db *DB) insertRefunds(ctx context.Context, tx *sqlx.Tx, refunds []reconcile.GatewayRefund) error {
	// 11 parameters a row: 500 rows stay under SQLite's limit.
	const rowsPerInsert = 500
	var q strings.Builder
	args := make([]any, 0, 11*min(len(refunds), rowsPerInsert))
	for start := 0; start < len(refunds); start += rowsPerInsert {
		part := refunds[start:min(start+rowsPerInsert, len(refunds))]
		q.Reset()
		args = args[:0]
		q.WriteString(`INSERT INTO gateway_refunds (` + refundColumns + `) VALUES `)
		for i := range part {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteString(`(?,?,?,?,?,?,?,?,?,?,?)`)
			args = append(args, refundValues(&part[i])...)
		}
		q.WriteString(upsertRefunds)
		if _, err := tx.ExecContext(ctx, db.db.Rebind(q.String()), args...); err != nil {
			return err
		}
	}
	return nil
}

// copyRefunds upserts on PostgreSQL: COPY into a temporary table, then one
// INSERT … SELECT, ten times faster than INSERTs with parameters.
func (db *DB) copyRefunds(ctx context.Context, tx *sqlx.Tx, refunds []reconcile.GatewayRefund) error {
	if len(refunds) == 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, `CREATE TEMPORARY TABLE IF NOT EXISTS gateway_refunds_in
		(LIKE gateway_refunds INCLUDING DEFAULTS) ON COMMIT DELETE ROWS`); err != nil {
		return err
	}
	stmt, err := tx.PrepareContext(ctx, "COPY gateway_refunds_in ("+refundColumns+") FROM STDIN")
	if err != nil {
		return err
	}
	for i := range refunds {
		if _, err := stmt.ExecContext(ctx, refundValues(&refunds[i])...); err != nil {
			stmt.Close()
			return err
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		stmt.Close()
		return err
	}
	if err := stmt.Close(); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO gateway_refunds (`+refundColumns+`) SELECT `+refundColumns+
		` FROM gateway_refunds_in`+upsertRefunds)
	return err
}

// MirroredRefunds calls fn for every mirrored refund created inside [since,
// until] in whole seconds (since floored, until's second included), ordered
// by created and id. FailedAt is left zero, as a gateway listing leaves it.
// One query streams the rows: keyset pages would each make PostgreSQL scan
// the rest of the window again when its statistics lag a bulk load. fn must
// not use the database (SQLite has one connection).
func (db *DB) MirroredRefunds(ctx context.Context, since, until time.Time, fn func(reconcile.GatewayRefund) error) error {
	rows, err := db.db.QueryContext(ctx, db.db.Rebind(`SELECT `+refundColumns+` FROM gateway_refunds
		WHERE created >= ? AND created <= ? ORDER BY created, id`), since.Unix(), until.Unix())
	if err != nil {
		return fmt.Errorf("list mirrored refunds: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var g reconcile.GatewayRefund
		var status, currency, reason string
		var created, failed int64
		if err := rows.Scan(&g.ID, &g.ChargeID, &g.PaymentIntentID, &g.CustomerID, &g.Amount, &currency,
			&status, &reason, &g.LedgerRefundID, &created, &failed); err != nil {
			return fmt.Errorf("list mirrored refunds: %w", err)
		}
		g.Currency, g.Status, g.FailureReason = intern(currency), reconcile.GatewayStatus(intern(status)), intern(reason)
		g.Created = time.Unix(created, 0).UTC()
		if err := fn(g); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("list mirrored refunds: %w", err)
	}
	return nil
}

// interned holds the few statuses, currencies and failure reasons a window
// repeats, so a million mirrored refunds share them.
var interned = func() map[string]string {
	m := map[string]string{}
	for _, s := range []string{"", "succeeded", "pending", "requires_action", "failed", "canceled",
		"usd", "eur", "gbp", "jpy", "cad", "aud", "chf", "sek", "nok", "dkk", "nzd", "sgd", "hkd", "mxn", "brl", "inr", "pln",
		"expired_or_canceled_card", "lost_or_stolen_card", "declined", "insufficient_funds", "merchant_request",
		"charge_for_pending_refund_disputed", "unknown"} {
		m[s] = s
	}
	return m
}()

func intern(s string) string {
	if k, ok := interned[s]; ok {
		return k
	}
	return s
}
