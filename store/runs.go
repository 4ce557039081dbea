package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// runRow is a row of runs.
type runRow struct {
	ID             string         `db:"id"`
	Status         string         `db:"status"`
	Since          dbTime         `db:"since"`
	Until          dbTime         `db:"until"`
	CustomerID     sql.NullString `db:"customer_id"`
	StartedAt      dbTime         `db:"started_at"`
	FinishedAt     dbTime         `db:"finished_at"`
	LedgerRefunds  int64          `db:"ledger_refunds"`
	GatewayRefunds int64          `db:"gateway_refunds"`
	Matched        int64          `db:"matched"`
	Discrepancies  int64          `db:"discrepancies"`
	Error          string         `db:"error"`
	Hold           string         `db:"hold"`
	HoldNew        int64          `db:"hold_new"`
	HoldRefunds    int64          `db:"hold_refunds"`
	HoldBy         string         `db:"hold_by"`
	HoldAt         dbTime         `db:"hold_at"`
	HoldNote       string         `db:"hold_note"`
}

// runColumns are the columns of runRow.
const runColumns = `id, status, since, until, customer_id, started_at, finished_at, ledger_refunds,
	gateway_refunds, matched, discrepancies, error, hold, hold_new, hold_refunds, hold_by, hold_at, hold_note`

func (r runRow) run() reconcile.Run {
	run := reconcile.Run{
		ID: r.ID,
		Scope: reconcile.Scope{
			Since:      r.Since.Time,
			Until:      r.Until.Time,
			CustomerID: r.CustomerID.String,
		},
		StartedAt:  r.StartedAt.Time,
		FinishedAt: r.FinishedAt.Time,
		Status:     reconcile.RunStatus(r.Status),
		Counts: reconcile.Counts{
			LedgerRefunds:  int(r.LedgerRefunds),
			GatewayRefunds: int(r.GatewayRefunds),
			Matched:        int(r.Matched),
			Discrepancies:  int(r.Discrepancies),
		},
		Error: r.Error,
	}
	if r.Hold != "" {
		run.Held = &reconcile.Hold{State: reconcile.HoldState(r.Hold), NewDiscrepancies: int(r.HoldNew),
			RefundsInScope: int(r.HoldRefunds), By: r.HoldBy, At: r.HoldAt.Time, Note: r.HoldNote}
		if run.Held.State == reconcile.HoldWaiting {
			run.Status = reconcile.RunHeld
		}
	}
	return run
}

// orNow returns t, or the store's clock when t is zero.
func (db *DB) orNow(t time.Time) time.Time {
	if t.IsZero() {
		return db.now()
	}
	return t
}

// StartRun records run as running. A run id already recorded is an error.
func (db *DB) StartRun(ctx context.Context, run reconcile.Run) error {
	b := newBinder(db.dialect)
	q := `INSERT INTO runs (id, status, since, until, customer_id, started_at)
VALUES (` + b.add(run.ID) + `, ` + b.add(string(reconcile.RunRunning)) + `, ` +
		b.add(db.nullTimeArg(run.Scope.Since)) + `, ` + b.add(db.nullTimeArg(run.Scope.Until)) + `, ` +
		b.add(nullString(run.Scope.CustomerID)) + `, ` + b.add(db.timeArg(db.orNow(run.StartedAt))) + `)`
	if _, err := db.db.ExecContext(ctx, q, b.args...); err != nil {
		return fmt.Errorf("start run %s: %w", run.ID, err)
	}
	return nil
}

// FailRun records a run that did not finish: status failed, finished_at and
// the error. It changes no discrepancy, and records the run even when
// StartRun never did; a run recorded succeeded stays so.
func (db *DB) FailRun(ctx context.Context, run reconcile.Run) error {
	run.Status = reconcile.RunFailed
	run.FinishedAt = db.orNow(run.FinishedAt)
	b := newBinder(db.dialect)
	q := db.insertRun(b, run) + `
ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, error = excluded.error
WHERE runs.status <> ` + b.add(string(reconcile.RunSucceeded))
	if _, err := db.db.ExecContext(ctx, q, b.args...); err != nil {
		return fmt.Errorf("record failed run %s: %w", run.ID, err)
	}
	return nil
}

// insertRun returns an INSERT of every column of run, bound to b.
func (db *DB) insertRun(b *binder, run reconcile.Run) string {
	return `INSERT INTO runs (id, status, since, until, customer_id, started_at, finished_at,
	ledger_refunds, gateway_refunds, matched, discrepancies, error)
VALUES (` + b.add(run.ID) + `, ` + b.add(string(run.Status)) + `, ` +
		b.add(db.nullTimeArg(run.Scope.Since)) + `, ` + b.add(db.nullTimeArg(run.Scope.Until)) + `, ` +
		b.add(nullString(run.Scope.CustomerID)) + `, ` +
		b.add(db.timeArg(db.orNow(run.StartedAt))) + `, ` + b.add(db.nullTimeArg(run.FinishedAt)) + `, ` +
		b.add(int64(run.Counts.LedgerRefunds)) + `, ` + b.add(int64(run.Counts.GatewayRefunds)) + `, ` +
		b.add(int64(run.Counts.Matched)) + `, ` + b.add(int64(run.Counts.Discrepancies)) + `, ` +
		b.add(run.Error) + `)`
}

// Run returns the run with id, or an error wrapping reconcile.ErrNotFound.
func (db *DB) Run(ctx context.Context, id string) (reconcile.Run, error) {
	var r runRow
	err := db.db.GetContext(ctx, &r, db.db.Rebind(`SELECT `+runColumns+` FROM runs WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return reconcile.Run{}, fmt.Errorf("run %s: %w", id, reconcile.ErrNotFound)
	}
	if err != nil {
		return reconcile.Run{}, fmt.Errorf("read run %s: %w", id, err)
	}
	return r.run(), nil
}
