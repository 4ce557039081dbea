package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/jmoiron/sqlx"

	"github.com/refundrecon/refundrecon/reconcile"
)

// This file keeps held runs (reconcile/hold.go): FinishRun records the hold
// decided by reconcile.DecideRun, Release sends what the run held, Discard
// resolves the cases the run alone opened and drops their alerts. It also
// holds PreviewRun, the dry run's read-only FinishRun.

// ActionReleased is the history action of a release, written on every case
// whose alerts the held run held.
const ActionReleased = "released"

// heldRows are the run.held alerts of a held run: one per channel, keyed
// run:channel:held so that it is enqueued once.
func heldRows(channels []AlertChannel, h reconcile.HeldRun) ([]outboxRow, error) {
	b, err := json.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("encode run.held alert: %w", err)
	}
	rows := make([]outboxRow, 0, len(channels))
	for _, ch := range channels {
		rows = append(rows, outboxRow{
			key:     h.RunID + ":" + ch.Name + ":" + string(reconcile.AlertRunHeld),
			channel: ch.Name, action: reconcile.AlertRunHeld, runID: h.RunID, actor: RunActor, payload: string(b),
		})
	}
	return rows, nil
}

// recordHeld marks the run of h held, inside FinishRun's transaction; nil
// h does nothing.
func (db *DB) recordHeld(ctx context.Context, tx *sqlx.Tx, h *reconcile.HeldRun) error {
	if h == nil {
		return nil
	}
	b := newBinder(db.dialect)
	q := `UPDATE runs SET hold = ` + b.add(string(reconcile.HoldWaiting)) + `, hold_new = ` + b.add(int64(h.NewDiscrepancies)) +
		`, hold_refunds = ` + b.add(int64(h.RefundsInScope)) + ` WHERE id = ` + b.add(h.RunID)
	if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
		return fmt.Errorf("record held run: %w", err)
	}
	return nil
}

// PreviewRun is FinishRun without effects, for a dry run: it reads the
// stored cases FinishRun would read, in a transaction it rolls back (read
// only on PostgreSQL, no row locked), and returns what reconcile.DecideRun
// makes of them. Nothing is written: no run, case, event or alert.
func (db *DB) PreviewRun(ctx context.Context, run reconcile.Run, found []reconcile.Discrepancy, judged map[string]string) (reconcile.Changes, error) {
	var opts *sql.TxOptions
	if db.dialect == DialectPostgres {
		opts = &sql.TxOptions{ReadOnly: true}
	}
	tx, err := db.db.BeginTxx(ctx, opts)
	if err != nil {
		return reconcile.Changes{}, fmt.Errorf("preview run: begin: %w", err)
	}
	defer tx.Rollback()
	stored, err := db.readStored(ctx, tx, found, judged, false)
	if err != nil {
		return reconcile.Changes{}, fmt.Errorf("preview run: %w", err)
	}
	at := storedTime(db.orNow(run.FinishedAt))
	return reconcile.DecideRun(run, at, stored, found, judged), nil
}

// heldRun reads and locks the hold of run id for a release or discard. It
// fails with reconcile.ErrNotFound for an unknown run and
// reconcile.ErrConflict for a run never held.
func (db *DB) heldRun(ctx context.Context, tx *sqlx.Tx, id string) (runRow, error) {
	var r runRow
	q := db.db.Rebind(`SELECT ` + runColumns + ` FROM runs WHERE id = ?`)
	if db.dialect == DialectPostgres {
		q += ` FOR UPDATE`
	}
	err := tx.GetContext(ctx, &r, q, id)
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("run %s: %w", id, reconcile.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("read run %s: %w", id, err)
	}
	if r.Hold == "" {
		return r, fmt.Errorf("run %s was not held (status %s): %w", id, r.Status, reconcile.ErrConflict)
	}
	return r, nil
}

// endHold records who ended the hold of run id, and how.
func (db *DB) endHold(ctx context.Context, tx *sqlx.Tx, id string, state reconcile.HoldState, by, note string) error {
	b := newBinder(db.dialect)
	q := `UPDATE runs SET hold = ` + b.add(string(state)) + `, hold_by = ` + b.add(by) + `, hold_at = ` +
		b.add(db.timeArg(db.now())) + `, hold_note = ` + b.add(note) + ` WHERE id = ` + b.add(id)
	if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
		return fmt.Errorf("record hold of run %s: %w", id, err)
	}
	return nil
}

// Release sends what the held run id held: its alerts become due at once
// (each is already in the outbox under its key, so it is delivered once
// however often Release or the delivery is retried), the run is recorded
// released by by, and every case whose alerts it held gets a "released"
// history event by by. Releasing a run whose hold has ended does nothing
// and returns the hold as it stands in HoldEnded.Already.
//
// Errors wrap reconcile.ErrInvalid for an empty by, reconcile.ErrNotFound
// for an unknown run, reconcile.ErrConflict for a run never held.
func (db *DB) Release(ctx context.Context, id, by string) (reconcile.HoldEnded, error) {
	return db.endHeld(ctx, id, by, "", reconcile.HoldReleased)
}

// Discard ends the held run id without its alerts: the cases the run
// opened (first seen by it, still unresolved) are resolved with note, by
// by, and their held alerts are deleted, never sent; digests lose those
// cases. The run's other held alerts (cases it only updated, reopened or
// resolved) are released: those cases stay as the run left them. A run
// whose hold has ended is left alone (HoldEnded.Already).
//
// Errors wrap reconcile.ErrInvalid for an empty by or note,
// reconcile.ErrNotFound for an unknown run, reconcile.ErrConflict for a run
// never held.
func (db *DB) Discard(ctx context.Context, id, by, note string) (reconcile.HoldEnded, error) {
	if strings.TrimSpace(note) == "" {
		return reconcile.HoldEnded{}, fmt.Errorf("discard %s: a note saying why is required: %w", id, reconcile.ErrInvalid)
	}
	return db.endHeld(ctx, id, by, strings.TrimSpace(note), reconcile.HoldDiscarded)
}

func (db *DB) endHeld(ctx context.Context, id, by, note string, state reconcile.HoldState) (reconcile.HoldEnded, error) {
	verb := "release"
	if state == reconcile.HoldDiscarded {
		verb = "discard"
	}
	by = strings.TrimSpace(by)
	if by == "" {
		return reconcile.HoldEnded{}, fmt.Errorf("%s %s: who does it is required: %w", verb, id, reconcile.ErrInvalid)
	}
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return reconcile.HoldEnded{}, fmt.Errorf("%s %s: begin: %w", verb, id, err)
	}
	defer tx.Rollback()
	r, err := db.heldRun(ctx, tx, id)
	if err != nil {
		return reconcile.HoldEnded{}, fmt.Errorf("%s: %w", verb, err)
	}
	run := r.run()
	out := reconcile.HoldEnded{Run: reconcile.HeldRun{RunID: id, NewDiscrepancies: run.Held.NewDiscrepancies,
		RefundsInScope: run.Held.RefundsInScope}}
	if run.Held.State != reconcile.HoldWaiting {
		out.Already = run.Held
		return out, nil
	}
	at := db.now()
	var discarded []string
	if state == reconcile.HoldDiscarded {
		if discarded, err = db.discardCases(ctx, tx, id, by, note); err != nil {
			return reconcile.HoldEnded{}, fmt.Errorf("discard %s: %w", id, err)
		}
		n, err := db.dropHeldAlerts(ctx, tx, id, discarded)
		if err != nil {
			return reconcile.HoldEnded{}, fmt.Errorf("discard %s: %w", id, err)
		}
		out.Alerts, out.Resolved = n, discarded
	} else {
		// The audit trail: every case whose alerts the run held.
		b := newBinder(db.dialect)
		q := `INSERT INTO discrepancy_events (discrepancy_id, at, actor, action, from_status, to_status, note, run_id)
SELECT d.id, ` + b.add(db.timeArg(at)) + `, ` + b.add(by) + `, ` + b.add(ActionReleased) + `, d.status, d.status, ` +
			b.add(reconcile.ReleaseNote) + `, ` + b.add(id) + `
FROM discrepancies d WHERE d.id IN (SELECT e.discrepancy_id FROM discrepancy_events e WHERE e.run_id = ` + b.add(id) +
			` AND e.actor = ` + b.add(RunActor) + `) ORDER BY d.id`
		if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
			return reconcile.HoldEnded{}, fmt.Errorf("release %s: record history: %w", id, err)
		}
	}
	// What is still held goes out now: each alert was due when the run
	// enqueued it, and keeps its key.
	b := newBinder(db.dialect)
	q := `UPDATE alert_outbox SET held = ` + b.add(db.boolArg(false)) + ` WHERE run_id = ` + b.add(id) + ` AND held`
	res, err := tx.ExecContext(ctx, q, b.args...)
	if err != nil {
		return reconcile.HoldEnded{}, fmt.Errorf("%s %s: release alerts: %w", verb, id, err)
	}
	if n, err := res.RowsAffected(); err == nil && state == reconcile.HoldReleased {
		out.Alerts = int(n)
	}
	if err := db.endHold(ctx, tx, id, state, by, note); err != nil {
		return reconcile.HoldEnded{}, fmt.Errorf("%s: %w", verb, err)
	}
	if err := tx.Commit(); err != nil {
		return reconcile.HoldEnded{}, fmt.Errorf("%s %s: commit: %w", verb, id, err)
	}
	return out, nil
}

// boolArg binds a boolean: SQLite's STRICT tables hold 0 and 1.
func (db *DB) boolArg(v bool) any {
	if db.dialect == DialectSQLite {
		if v {
			return 1
		}
		return 0
	}
	return v
}

// discardCases resolves the unresolved cases run id opened (first seen by
// it), by by with note, and returns their ids, sorted.
func (db *DB) discardCases(ctx context.Context, tx *sqlx.Tx, id, by, note string) ([]string, error) {
	b := newBinder(db.dialect)
	q := `SELECT id, status FROM discrepancies WHERE first_run_id = ` + b.add(id) + ` AND status <> ` +
		b.add(string(reconcile.StatusResolved)) + ` ORDER BY id`
	if db.dialect == DialectPostgres {
		q += ` FOR UPDATE`
	}
	var rows []struct {
		ID     string `db:"id"`
		Status string `db:"status"`
	}
	if err := tx.SelectContext(ctx, &rows, q, b.args...); err != nil {
		return nil, fmt.Errorf("read the run's cases: %w", err)
	}
	at := db.now()
	ids := make([]string, len(rows))
	events := make([]Event, len(rows))
	for i, r := range rows {
		ids[i] = r.ID
		events[i] = Event{DiscrepancyID: r.ID, At: at, Actor: by, Action: ActionResolved,
			FromStatus: reconcile.Status(r.Status), ToStatus: reconcile.StatusResolved, Note: note, RunID: id}
	}
	for chunk := range slices.Chunk(ids, db.idBatchSize()) {
		b := newBinder(db.dialect)
		q := `UPDATE discrepancies SET status = ` + b.add(string(reconcile.StatusResolved)) +
			`, resolved_at = ` + b.add(db.timeArg(at)) + `, updated_at = ` + b.add(db.timeArg(at)) +
			` WHERE ` + db.idIn(b, "id", chunk)
		if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
			return nil, fmt.Errorf("resolve the run's cases: %w", err)
		}
	}
	if err := db.insertEvents(ctx, tx, events); err != nil {
		return nil, err
	}
	return ids, nil
}

// dropHeldAlerts deletes the held alerts of run id about the cases in
// discarded, and removes those cases from its held digests (a digest left
// empty is deleted). It returns how many alerts it deleted.
func (db *DB) dropHeldAlerts(ctx context.Context, tx *sqlx.Tx, id string, discarded []string) (int, error) {
	gone := make(map[string]bool, len(discarded))
	for _, d := range discarded {
		gone[d] = true
	}
	b := newBinder(db.dialect)
	var rows []struct {
		ID            int64          `db:"id"`
		DiscrepancyID sql.NullString `db:"discrepancy_id"`
		Digest        bool           `db:"digest"`
		Payload       string         `db:"payload"`
	}
	q := `SELECT id, discrepancy_id, digest, payload FROM alert_outbox WHERE run_id = ` + b.add(id) + ` AND held ORDER BY id`
	if err := tx.SelectContext(ctx, &rows, q, b.args...); err != nil {
		return 0, fmt.Errorf("read held alerts: %w", err)
	}
	var drop []int64
	for _, r := range rows {
		if !r.Digest {
			if gone[r.DiscrepancyID.String] {
				drop = append(drop, r.ID)
			}
			continue
		}
		var snaps []snapshot
		if err := json.Unmarshal([]byte(r.Payload), &snaps); err != nil {
			return 0, fmt.Errorf("held digest %d: decode payload: %w", r.ID, err)
		}
		kept := slices.DeleteFunc(snaps, func(s snapshot) bool { return gone[s.Discrepancy.ID] })
		if len(kept) == 0 {
			drop = append(drop, r.ID)
			continue
		}
		p, err := json.Marshal(kept)
		if err != nil {
			return 0, fmt.Errorf("held digest %d: encode payload: %w", r.ID, err)
		}
		b := newBinder(db.dialect)
		if _, err := tx.ExecContext(ctx, `UPDATE alert_outbox SET payload = `+b.add(string(p))+` WHERE id = `+b.add(r.ID), b.args...); err != nil {
			return 0, fmt.Errorf("held digest %d: %w", r.ID, err)
		}
	}
	for chunk := range slices.Chunk(drop, db.idBatchSize()) {
		b := newBinder(db.dialect)
		marks := make([]string, len(chunk))
		for i, x := range chunk {
			marks[i] = b.add(x)
		}
		q := `DELETE FROM alert_outbox WHERE id IN (` + strings.Join(marks, ", ") + `)`
		if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
			return 0, fmt.Errorf("drop held alerts: %w", err)
		}
	}
	return len(drop), nil
}
