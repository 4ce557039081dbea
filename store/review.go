package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Acknowledge records that actor has seen the open discrepancy id: it
// becomes acknowledged, with an "acknowledged" event carrying note (which may
// be empty). It returns the discrepancy as stored now.
//
// Errors wrap reconcile.ErrNotFound for an unknown id, reconcile.ErrConflict
// for a case already acknowledged or resolved, and reconcile.ErrInvalid for
// an empty actor.
func (db *DB) Acknowledge(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error) {
	return db.review(ctx, id, actor, note, ActionAcknowledged)
}

// Resolve records that actor closed the open or acknowledged discrepancy
// id, for the reason note: it becomes resolved, with a "resolved" event, and
// its "resolved" alert is enqueued on the enabled channels in the same
// transaction. A later run that finds the problem again reopens it. It
// returns the discrepancy as stored now.
//
// Errors wrap reconcile.ErrNotFound for an unknown id, reconcile.ErrConflict
// for a case already resolved, and reconcile.ErrInvalid for an empty actor
// or note.
func (db *DB) Resolve(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error) {
	return db.review(ctx, id, actor, note, ActionResolved)
}

func (db *DB) review(ctx context.Context, id, actor, note, action string) (reconcile.Discrepancy, error) {
	verb := "acknowledge"
	to := reconcile.StatusAcknowledged
	if action == ActionResolved {
		verb, to = "resolve", reconcile.StatusResolved
	}
	actor, note = strings.TrimSpace(actor), strings.TrimSpace(note)
	if actor == "" {
		return reconcile.Discrepancy{}, fmt.Errorf("%s %s: who does it is required: %w", verb, id, reconcile.ErrInvalid)
	}
	if action == ActionResolved && note == "" {
		return reconcile.Discrepancy{}, fmt.Errorf("resolve %s: a note saying why is required: %w", id, reconcile.ErrInvalid)
	}

	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return reconcile.Discrepancy{}, fmt.Errorf("%s %s: begin: %w", verb, id, err)
	}
	defer tx.Rollback()

	// Lock the row so that a run's FinishRun cannot change it in between.
	b := newBinder(db.dialect)
	q := `SELECT ` + discrepancyColumns + `, cycle FROM discrepancies WHERE id = ` + b.add(id)
	if db.dialect == DialectPostgres {
		q += ` FOR UPDATE`
	}
	var r cycleRow
	err = tx.GetContext(ctx, &r, q, b.args...)
	if errors.Is(err, sql.ErrNoRows) {
		return reconcile.Discrepancy{}, fmt.Errorf("%s %s: no such discrepancy: %w", verb, id, reconcile.ErrNotFound)
	}
	if err != nil {
		return reconcile.Discrepancy{}, fmt.Errorf("%s %s: read: %w", verb, id, err)
	}
	d := r.discrepancy()
	from := d.Status
	switch {
	case from == reconcile.StatusResolved:
		return d, fmt.Errorf("%s %s: already resolved: %w", verb, id, reconcile.ErrConflict)
	case from == reconcile.StatusAcknowledged && to == reconcile.StatusAcknowledged:
		return d, fmt.Errorf("acknowledge %s: already acknowledged: %w", id, reconcile.ErrConflict)
	}

	at := storedTime(db.now())
	b = newBinder(db.dialect)
	set := `status = ` + b.add(string(to)) + `, updated_at = ` + b.add(db.timeArg(at))
	if to == reconcile.StatusResolved {
		set += `, resolved_at = ` + b.add(db.timeArg(at))
	}
	q = `UPDATE discrepancies SET ` + set + ` WHERE id = ` + b.add(id)
	if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
		return d, fmt.Errorf("%s %s: %w", verb, id, err)
	}
	d.Status = to
	event := Event{DiscrepancyID: id, At: at, Actor: actor, Action: action, FromStatus: from, ToStatus: to, Note: note}
	if err := db.insertEvents(ctx, tx, []Event{event}); err != nil {
		return d, fmt.Errorf("%s %s: %w", verb, id, err)
	}
	if to == reconcile.StatusResolved {
		rows, err := outboxRows(db.alertChannels(), reconcile.AlertResolved, "", actor, note,
			[]caseCycle{{d: d, cycle: r.Cycle}})
		if err != nil {
			return d, fmt.Errorf("resolve %s: %w", id, err)
		}
		if err := db.insertOutbox(ctx, tx, at, rows); err != nil {
			return d, fmt.Errorf("resolve %s: %w", id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return d, fmt.Errorf("%s %s: commit: %w", verb, id, err)
	}
	return d, nil
}
