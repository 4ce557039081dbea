package store

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// History returns a case's history as the API shows it, oldest first;
// empty when there is no such case.
func (db *DB) History(ctx context.Context, id string) ([]reconcile.CaseEvent, error) {
	events, err := db.Events(ctx, id)
	if err != nil {
		return nil, err
	}
	out := make([]reconcile.CaseEvent, len(events))
	for i, e := range events {
		out[i] = reconcile.CaseEvent{At: e.At, By: e.Actor, Action: e.Action, To: e.ToStatus, Note: e.Note}
		if e.FromStatus != "" {
			from := e.FromStatus
			out[i].From = &from
		}
		if e.RunID != "" {
			run := e.RunID
			out[i].RunID = &run
		}
	}
	return out, nil
}

// Runs returns the most recent runs, newest first, at most limit (1 to
// 1000; 20 when out of range).
func (db *DB) Runs(ctx context.Context, limit int) (reconcile.RunList, error) {
	if limit <= 0 || limit > 1000 {
		limit = 20
	}
	var rows []runRow
	err := db.db.SelectContext(ctx, &rows, db.db.Rebind(`SELECT `+runColumns+`
FROM runs ORDER BY started_at DESC, id DESC LIMIT ?`), limit)
	if err != nil {
		return nil, fmt.Errorf("list runs: %w", err)
	}
	out := make(reconcile.RunList, len(rows))
	for i, r := range rows {
		out[i] = r.run()
	}
	return out, nil
}

// Trend replays the history the store keeps (openings, reopenings and
// resolutions) into one reconcile.TrendDay per day from from to to. Money
// at risk is each case's as stored now.
func (db *DB) Trend(ctx context.Context, from, to time.Time) ([]reconcile.TrendDay, error) {
	b := newBinder(db.dialect)
	// Only cases that can have been open inside the window: unresolved now,
	// or resolved inside it.
	q := `SELECT e.discrepancy_id, e.at, e.action, d.at_risk_currency, d.at_risk_amount
FROM discrepancy_events e JOIN discrepancies d ON d.id = e.discrepancy_id
WHERE e.action IN ('opened', 'reopened', 'resolved') AND e.at < ` + b.add(db.timeArg(to)) + `
	AND (d.status <> 'resolved' OR d.resolved_at >= ` + b.add(db.timeArg(from)) + `)
ORDER BY e.at, e.id`
	var rows []struct {
		ID       string         `db:"discrepancy_id"`
		At       dbTime         `db:"at"`
		Action   string         `db:"action"`
		Currency sql.NullString `db:"at_risk_currency"`
		AtRisk   sql.NullInt64  `db:"at_risk_amount"`
	}
	if err := db.db.SelectContext(ctx, &rows, q, b.args...); err != nil {
		return nil, fmt.Errorf("read trend: %w", err)
	}
	events := make([]reconcile.TrendEvent, len(rows))
	for i, r := range rows {
		events[i] = reconcile.TrendEvent{CaseID: r.ID, At: r.At.Time, Opened: r.Action != ActionResolved,
			Currency: r.Currency.String, AtRisk: r.AtRisk.Int64}
	}
	return reconcile.Trend(events, from, to), nil
}

// fillAtRisk computes reconcile.AtRisk for the cases stored before the
// store kept it (at_risk_amount null), in batches.
func (db *DB) fillAtRisk(ctx context.Context) error {
	for {
		var rows []discrepancyRow
		err := db.db.SelectContext(ctx, &rows, `SELECT `+discrepancyColumns+` FROM discrepancies WHERE at_risk_amount IS NULL ORDER BY id LIMIT 1000`)
		if err != nil {
			return fmt.Errorf("fill money at risk: %w", err)
		}
		if len(rows) == 0 {
			return nil
		}
		tx, err := db.db.BeginTxx(ctx, nil)
		if err != nil {
			return fmt.Errorf("fill money at risk: %w", err)
		}
		for r := range slices.Values(rows) {
			amount, currency := reconcile.AtRisk(r.discrepancy())
			if _, err := tx.ExecContext(ctx, db.db.Rebind(`UPDATE discrepancies SET at_risk_amount = ?, at_risk_currency = ? WHERE id = ?`),
				amount, currency, r.ID); err != nil {
				_ = tx.Rollback()
				return fmt.Errorf("fill money at risk: %w", err)
			}
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("fill money at risk: %w", err)
		}
	}
}
