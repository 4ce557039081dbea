package store

import (
	"cmp"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/refundrecon/refundrecon/reconcile"
)

// AlertChannel is a channel the outbox enqueues alerts for. The store knows
// channels by name only; package alert sends them.
type AlertChannel struct {
	Name string
	// DigestOver, when positive, makes one digest alert on this channel
	// instead of one per case when a run opens (or resolves) more than
	// DigestOver cases at once.
	DigestOver int
}

// outboxConfig holds the channels enabled for enqueueing; the DB's zero
// value enqueues nothing.
type outboxConfig struct {
	mu       sync.RWMutex
	channels []AlertChannel
}

// SetAlertChannels sets the channels that FinishRun and Resolve enqueue
// alerts for, in the same transaction as the change. With none, which is the
// default, no alert is enqueued; the configuration at the time of the change
// decides, so a channel enabled later gets the alerts of later changes only.
// It is safe to call at any time.
func (db *DB) SetAlertChannels(channels []AlertChannel) {
	db.alerts.mu.Lock()
	defer db.alerts.mu.Unlock()
	db.alerts.channels = slices.Clone(channels)
}

func (db *DB) alertChannels() []AlertChannel {
	db.alerts.mu.RLock()
	defer db.alerts.mu.RUnlock()
	return db.alerts.channels
}

// outboxBatch is how many outbox rows one INSERT writes on SQLite (13
// parameters a row, under its 32766).
const outboxBatch = 500

// outboxRow is an alert to enqueue.
type outboxRow struct {
	key, channel  string
	action        reconcile.AlertAction
	digest        bool
	discrepancyID string
	cycle         int
	runID         string
	actor, note   string
	payload       string
	// held: the alert of a held run, never claimed until released.
	held bool
}

// snapshot is one case in an outbox payload: the discrepancy in the
// contract's report form, plus what that form leaves out.
type snapshot struct {
	Discrepancy     reconcile.Discrepancy `json:"discrepancy"`
	GatewayCurrency string                `json:"gateway_currency,omitempty"`
}

// caseCycle is a case an alert announces and the cycle it is in.
type caseCycle struct {
	d     reconcile.Discrepancy
	cycle int
	// updates is the case's update count, for an update's key; note says
	// what changed.
	updates int
	note    string
}

// alertKey is the outbox's idempotency key of one case's alert: per cycle,
// and per update within a cycle for an update.
func alertKey(discrepancyID, channel string, action reconcile.AlertAction, cycle, updates int) string {
	k := discrepancyID + ":" + channel + ":" + string(action) + ":" + strconv.Itoa(cycle)
	if action == reconcile.AlertUpdated {
		k += "." + strconv.Itoa(updates)
	}
	return k
}

// outboxRows builds the alerts of one action for every channel: one per
// case, or one digest per channel whose DigestOver the cases exceed. A
// person's change (runID empty) is never digested.
func outboxRows(channels []AlertChannel, action reconcile.AlertAction, runID, actor, note string, cases []caseCycle) ([]outboxRow, error) {
	if len(cases) == 0 {
		return nil, nil
	}
	payloads := make([]string, len(cases))
	var all []snapshot
	for i, c := range cases {
		s := snapshot{Discrepancy: c.d, GatewayCurrency: c.d.GatewayCurrency}
		b, err := json.Marshal([]snapshot{s})
		if err != nil {
			return nil, fmt.Errorf("encode alert of %s: %w", c.d.ID, err)
		}
		payloads[i] = string(b)
		all = append(all, s)
	}
	var rows []outboxRow
	for _, ch := range channels {
		if ch.DigestOver > 0 && len(cases) > ch.DigestOver && runID != "" {
			b, err := json.Marshal(all)
			if err != nil {
				return nil, fmt.Errorf("encode digest alert: %w", err)
			}
			rows = append(rows, outboxRow{
				key:     runID + ":" + ch.Name + ":" + string(action) + ":digest",
				channel: ch.Name, action: action, digest: true,
				runID: runID, actor: actor, note: note, payload: string(b),
			})
			continue
		}
		for i, c := range cases {
			rows = append(rows, outboxRow{
				key:     alertKey(c.d.ID, ch.Name, action, c.cycle, c.updates),
				channel: ch.Name, action: action, discrepancyID: c.d.ID, cycle: c.cycle,
				runID: runID, actor: actor, note: cmp.Or(note, c.note), payload: payloads[i],
			})
		}
	}
	return rows, nil
}

// enqueueAlerts is FinishRun's part of the outbox, inside its transaction:
// the alert each change of ch carries (opened, updated, resolved), on every
// enabled channel, keyed by the case's cycle (and update count for an
// update) so that each is enqueued once however often it is retried.
func (db *DB) enqueueAlerts(ctx context.Context, tx *sqlx.Tx, runID string, at time.Time, ch reconcile.Changes) error {
	channels := db.alertChannels()
	if len(channels) == 0 {
		return nil
	}
	byAction := map[reconcile.AlertAction][]reconcile.Change{}
	var ids []string
	for _, c := range ch.Changes {
		if c.Alert != "" {
			byAction[c.Alert] = append(byAction[c.Alert], c)
			ids = append(ids, c.Case.ID)
		}
	}
	if len(ids) == 0 && ch.Held == nil {
		return nil
	}
	counters, err := db.cycles(ctx, tx, ids)
	if err != nil {
		return err
	}
	var rows []outboxRow
	for _, action := range []reconcile.AlertAction{reconcile.AlertOpened, reconcile.AlertUpdated, reconcile.AlertResolved} {
		var cases []caseCycle
		for _, c := range byAction[action] {
			n := counters[c.Case.ID]
			cases = append(cases, caseCycle{d: c.Case, cycle: n.cycle, updates: n.updates, note: c.Note})
		}
		more, err := outboxRows(channels, action, runID, RunActor, "", cases)
		if err != nil {
			return err
		}
		rows = append(rows, more...)
	}
	if ch.Held != nil {
		held, err := heldRows(channels, *ch.Held)
		if err != nil {
			return err
		}
		for i := range rows {
			rows[i].held = true
		}
		rows = append(rows, held...)
	}
	return db.insertOutbox(ctx, tx, at, rows)
}

// counter is a case's cycle and update count.
type counter struct{ cycle, updates int }

// cycles reads the cycle and update count of the cases ids name.
func (db *DB) cycles(ctx context.Context, tx *sqlx.Tx, ids []string) (map[string]counter, error) {
	out := make(map[string]counter, len(ids))
	for chunk := range slices.Chunk(ids, db.idBatchSize()) {
		b := newBinder(db.dialect)
		var rows []struct {
			ID      string `db:"id"`
			Cycle   int    `db:"cycle"`
			Updates int    `db:"updates"`
		}
		q := `SELECT id, cycle, updates FROM discrepancies WHERE ` + db.idIn(b, "id", chunk)
		if err := tx.SelectContext(ctx, &rows, q, b.args...); err != nil {
			return nil, fmt.Errorf("read cycles: %w", err)
		}
		for _, r := range rows {
			out[r.ID] = counter{cycle: r.Cycle, updates: r.Updates}
		}
	}
	return out, nil
}

// cycleRow is a discrepancy with its cycle.
type cycleRow struct {
	discrepancyRow
	Cycle int `db:"cycle"`
}

// insertOutbox writes rows, due at once; a row whose key is already there
// is left alone, so enqueueing twice sends once.
func (db *DB) insertOutbox(ctx context.Context, tx *sqlx.Tx, at time.Time, rows []outboxRow) error {
	if len(rows) == 0 {
		return nil
	}
	if db.dialect == DialectPostgres {
		return db.insertOutboxPostgres(ctx, tx, at, rows)
	}
	ts := db.timeArg(at)
	for chunk := range slices.Chunk(rows, outboxBatch) {
		b := newBinder(db.dialect)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO alert_outbox (dedup_key, channel, action, digest, discrepancy_id, cycle,
	run_id, actor, note, payload, created_at, next_attempt_at, held) VALUES `)
		for i, r := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			digest := 0
			if r.digest {
				digest = 1
			}
			held := 0
			if r.held {
				held = 1
			}
			vals := []any{r.key, r.channel, string(r.action), digest, nullString(r.discrepancyID), r.cycle,
				nullString(r.runID), r.actor, r.note, r.payload, ts, ts, held}
			sb.WriteByte('(')
			for j, v := range vals {
				if j > 0 {
					sb.WriteString(", ")
				}
				sb.WriteString(b.add(v))
			}
			sb.WriteByte(')')
		}
		sb.WriteString(` ON CONFLICT (dedup_key) DO NOTHING`)
		if _, err := tx.ExecContext(ctx, sb.String(), b.args...); err != nil {
			return fmt.Errorf("enqueue alerts: %w", err)
		}
	}
	return nil
}

// insertOutboxPostgres is insertOutbox with one array parameter a column.
func (db *DB) insertOutboxPostgres(ctx context.Context, tx *sqlx.Tx, at time.Time, rows []outboxRow) error {
	for chunk := range slices.Chunk(rows, pgBatch) {
		n := len(chunk)
		key, channel, action, actor, note, payload := make([]string, n), make([]string, n), make([]string, n),
			make([]string, n), make([]string, n), make([]string, n)
		digest, held := make([]bool, n), make([]bool, n)
		cycle := make([]int64, n)
		discrepancy, run := make([]sql.NullString, n), make([]sql.NullString, n)
		for i, r := range chunk {
			key[i], channel[i], action[i], actor[i], note[i], payload[i] = r.key, r.channel, string(r.action), r.actor, r.note, r.payload
			digest[i], cycle[i], held[i] = r.digest, int64(r.cycle), r.held
			discrepancy[i] = sql.NullString{String: r.discrepancyID, Valid: r.discrepancyID != ""}
			run[i] = sql.NullString{String: r.runID, Valid: r.runID != ""}
		}
		q := `INSERT INTO alert_outbox (dedup_key, channel, action, digest, discrepancy_id, cycle,
	run_id, actor, note, payload, created_at, next_attempt_at, held)
SELECT v.dedup_key, v.channel, v.action, v.digest, v.discrepancy_id, v.cycle,
	v.run_id, v.actor, v.note, v.payload, $11::timestamptz, $11::timestamptz, v.held
FROM unnest($1::text[], $2::text[], $3::text[], $4::boolean[], $5::text[], $6::integer[], $7::text[],
	$8::text[], $9::text[], $10::text[], $12::boolean[]) WITH ORDINALITY
	AS v(dedup_key, channel, action, digest, discrepancy_id, cycle, run_id, actor, note, payload, held, n)
ORDER BY v.n
ON CONFLICT (dedup_key) DO NOTHING`
		_, err := tx.ExecContext(ctx, q, pq.Array(key), pq.Array(channel), pq.Array(action), pq.Array(digest),
			pq.Array(discrepancy), pq.Array(cycle), pq.Array(run), pq.Array(actor), pq.Array(note), pq.Array(payload),
			db.timeArg(at), pq.Array(held))
		if err != nil {
			return fmt.Errorf("enqueue alerts: %w", err)
		}
	}
	return nil
}

// claimedRow is a row of alert_outbox as ClaimAlert returns it.
type claimedRow struct {
	ID            int64          `db:"id"`
	Key           string         `db:"dedup_key"`
	Channel       string         `db:"channel"`
	Action        string         `db:"action"`
	Digest        bool           `db:"digest"`
	DiscrepancyID sql.NullString `db:"discrepancy_id"`
	Cycle         int            `db:"cycle"`
	RunID         sql.NullString `db:"run_id"`
	Actor         string         `db:"actor"`
	Note          string         `db:"note"`
	Payload       string         `db:"payload"`
	CreatedAt     dbTime         `db:"created_at"`
	Attempts      int            `db:"attempts"`
}

const claimedColumns = `id, dedup_key, channel, action, digest, discrepancy_id, cycle, run_id, actor, note,
	payload, created_at, attempts`

// ClaimAlert claims the oldest alert due at now on one of channels for
// lease, and returns it with ok true; ok is false when none is due. A
// claimed alert is invisible to other claims until it is marked delivered
// or failed, or its lease ends (the claimer crashed): then it is claimed
// again. Claims are safe across processes: FOR UPDATE SKIP LOCKED on
// PostgreSQL, SQLite's single writer otherwise.
//
// Alerts of one discrepancy on one channel go out in order: an alert waits
// while an earlier one of the same case and channel is undelivered, so that
// a resolve never overtakes its trigger.
func (db *DB) ClaimAlert(ctx context.Context, channels []string, now time.Time, lease time.Duration) (reconcile.Alert, bool, error) {
	if len(channels) == 0 {
		return reconcile.Alert{}, false, nil
	}
	token, err := claimToken()
	if err != nil {
		return reconcile.Alert{}, false, err
	}
	// Placeholders are bound in the order they appear: SQLite's are "?".
	b := newBinder(db.dialect)
	q := `UPDATE alert_outbox SET attempts = attempts + 1, locked_until = ` + b.add(db.timeArg(now.Add(lease))) +
		`, claim_token = ` + b.add(token) + `
WHERE id = (
	SELECT o.id FROM alert_outbox o
	WHERE o.delivered_at IS NULL AND NOT o.held AND o.next_attempt_at <= ` + b.add(db.timeArg(now)) + `
		AND (o.locked_until IS NULL OR o.locked_until <= ` + b.add(db.timeArg(now)) + `)
		AND ` + db.idIn(b, "o.channel", channels) + `
		AND NOT EXISTS (SELECT 1 FROM alert_outbox p WHERE p.discrepancy_id = o.discrepancy_id
			AND p.channel = o.channel AND p.id < o.id AND p.delivered_at IS NULL)
	ORDER BY o.id
	LIMIT 1`
	if db.dialect == DialectPostgres {
		q += `
	FOR UPDATE SKIP LOCKED`
	}
	q += `)
RETURNING ` + claimedColumns
	var r claimedRow
	err = db.retryBusy(ctx, func() error { return db.db.GetContext(ctx, &r, q, b.args...) })
	if errors.Is(err, sql.ErrNoRows) {
		return reconcile.Alert{}, false, nil
	}
	if err != nil {
		return reconcile.Alert{}, false, fmt.Errorf("claim alert: %w", err)
	}
	a := reconcile.Alert{
		ID: r.ID, Key: r.Key, Channel: r.Channel, Action: reconcile.AlertAction(r.Action), Digest: r.Digest,
		DiscrepancyID: r.DiscrepancyID.String, Cycle: r.Cycle, RunID: r.RunID.String,
		Actor: r.Actor, Note: r.Note, CreatedAt: r.CreatedAt.Time, Attempts: r.Attempts, ClaimToken: token,
	}
	if a.Action == reconcile.AlertRunHeld {
		var h reconcile.HeldRun
		if err := json.Unmarshal([]byte(r.Payload), &h); err != nil {
			return reconcile.Alert{}, false, fmt.Errorf("claim alert %d: decode payload: %w", r.ID, err)
		}
		a.Held = &h
		return a, true, nil
	}
	var snaps []snapshot
	if err := json.Unmarshal([]byte(r.Payload), &snaps); err != nil {
		// A row the store wrote and cannot read: fail it loudly rather than
		// send an empty alert.
		return reconcile.Alert{}, false, fmt.Errorf("claim alert %d: decode payload: %w", r.ID, err)
	}
	a.Discrepancies = make([]reconcile.Discrepancy, len(snaps))
	for i, s := range snaps {
		s.Discrepancy.GatewayCurrency = s.GatewayCurrency
		a.Discrepancies[i] = s.Discrepancy
	}
	return a, true, nil
}

func claimToken() (string, error) {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("claim token: %w", err)
	}
	return hex.EncodeToString(b[:]), nil
}

// AlertDelivered marks a claimed alert delivered at at. It fails with an
// error wrapping reconcile.ErrConflict when the claim was lost (the lease
// ended and another process claimed the alert).
func (db *DB) AlertDelivered(ctx context.Context, a reconcile.Alert, at time.Time) error {
	b := newBinder(db.dialect)
	q := `UPDATE alert_outbox SET delivered_at = ` + b.add(db.timeArg(at)) + `, locked_until = NULL, last_error = ''
WHERE id = ` + b.add(a.ID) + ` AND claim_token = ` + b.add(a.ClaimToken) + ` AND delivered_at IS NULL`
	return db.updateClaimed(ctx, a, "mark alert delivered", q, b.args)
}

// AlertFailed records a failed attempt of a claimed alert: it is due again
// at next, and reason (which must hold no secret) is kept as its last error.
func (db *DB) AlertFailed(ctx context.Context, a reconcile.Alert, next time.Time, reason string) error {
	if len(reason) > 1000 {
		reason = reason[:1000]
	}
	b := newBinder(db.dialect)
	q := `UPDATE alert_outbox SET next_attempt_at = ` + b.add(db.timeArg(next)) + `, locked_until = NULL, last_error = ` +
		b.add(strings.ToValidUTF8(reason, "?")) + `
WHERE id = ` + b.add(a.ID) + ` AND claim_token = ` + b.add(a.ClaimToken) + ` AND delivered_at IS NULL`
	return db.updateClaimed(ctx, a, "record failed alert", q, b.args)
}

func (db *DB) updateClaimed(ctx context.Context, a reconcile.Alert, op, q string, args []any) error {
	var res sql.Result
	err := db.retryBusy(ctx, func() (err error) {
		res, err = db.db.ExecContext(ctx, q, args...)
		return err
	})
	if err != nil {
		return fmt.Errorf("%s %d: %w", op, a.ID, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s %d: %w", op, a.ID, err)
	}
	if n == 0 {
		return fmt.Errorf("%s %d: the claim was lost: %w", op, a.ID, reconcile.ErrConflict)
	}
	return nil
}

// NextAlertDue returns when the first undelivered alert on one of channels
// can be claimed (due and not leased); ok is false when there is none. An
// alert waiting behind an earlier one of its case and channel counts from
// that one, so that a caller waiting for it does not poll in vain.
func (db *DB) NextAlertDue(ctx context.Context, channels []string) (t time.Time, ok bool, err error) {
	if len(channels) == 0 {
		return time.Time{}, false, nil
	}
	b := newBinder(db.dialect)
	q := `SELECT MIN(CASE WHEN o.locked_until > o.next_attempt_at THEN o.locked_until ELSE o.next_attempt_at END)
FROM alert_outbox o WHERE o.delivered_at IS NULL AND NOT o.held AND ` + db.idIn(b, "o.channel", channels) + `
	AND NOT EXISTS (SELECT 1 FROM alert_outbox p WHERE p.discrepancy_id = o.discrepancy_id
		AND p.channel = o.channel AND p.id < o.id AND p.delivered_at IS NULL)`
	var next dbTime
	if err := db.db.GetContext(ctx, &next, q, b.args...); err != nil {
		return time.Time{}, false, fmt.Errorf("read next alert due: %w", err)
	}
	return next.Time, !next.Time.IsZero(), nil
}

// OutboxEntry is an alert of the outbox as stored, for inspection.
type OutboxEntry struct {
	ID            int64
	Key           string
	Channel       string
	Action        reconcile.AlertAction
	Digest        bool
	DiscrepancyID string
	Cycle         int
	RunID         string
	Actor         string
	Note          string
	CreatedAt     time.Time
	Attempts      int
	NextAttemptAt time.Time
	DeliveredAt   time.Time // zero while pending
	LastError     string
	// Held: the alert of a held run, waiting for release.
	Held bool
}

// Outbox lists the alerts of the outbox in the order they were enqueued;
// the undelivered ones only when pending is true.
func (db *DB) Outbox(ctx context.Context, pending bool) ([]OutboxEntry, error) {
	q := `SELECT id, dedup_key, channel, action, digest, discrepancy_id, cycle, run_id, actor, note, created_at,
	attempts, next_attempt_at, delivered_at, last_error, held FROM alert_outbox`
	if pending {
		q += ` WHERE delivered_at IS NULL`
	}
	q += ` ORDER BY id`
	// The claimed row's columns (payload aside) and the delivery state.
	var rows []struct {
		claimedRow
		NextAttemptAt dbTime `db:"next_attempt_at"`
		DeliveredAt   dbTime `db:"delivered_at"`
		LastError     string `db:"last_error"`
		Held          bool   `db:"held"`
	}
	if err := db.db.SelectContext(ctx, &rows, q); err != nil {
		return nil, fmt.Errorf("list alert outbox: %w", err)
	}
	out := make([]OutboxEntry, len(rows))
	for i, r := range rows {
		out[i] = OutboxEntry{
			ID: r.ID, Key: r.Key, Channel: r.Channel, Action: reconcile.AlertAction(r.Action), Digest: r.Digest,
			DiscrepancyID: r.DiscrepancyID.String, Cycle: r.Cycle, RunID: r.RunID.String, Actor: r.Actor, Note: r.Note,
			CreatedAt: r.CreatedAt.Time, Attempts: r.Attempts, NextAttemptAt: r.NextAttemptAt.Time,
			DeliveredAt: r.DeliveredAt.Time, LastError: r.LastError, Held: r.Held,
		}
	}
	return out, nil
}

// retryBusy runs stmt, a single autocommit statement, again while SQLite
// answers SQLITE_BUSY and ctx lasts. SQLite's busy handler polls with
// sleeps of up to 100 ms and is not fair: with several processes claiming
// alerts back to back, a waiter can lose every poll to the others for
// longer than busy_timeout on a loaded machine (TestOutbox's
// ConcurrentClaims failed so after 50 s at a load average of 20). A
// statement that failed busy changed nothing, so running it again is safe;
// ctx, not the machine's speed, bounds the wait. PostgreSQL waits on its
// row locks itself: stmt runs once.
func (db *DB) retryBusy(ctx context.Context, stmt func() error) error {
	for {
		err := stmt()
		if db.dialect != DialectSQLite || !isSQLiteBusy(err) || ctx.Err() != nil {
			return err
		}
		// Most busy answers come after busy_timeout; one that came at once
		// (a stale WAL snapshot) must not make this loop spin.
		t := time.NewTimer(10 * time.Millisecond)
		select {
		case <-ctx.Done():
			t.Stop()
			return err
		case <-t.C:
		}
	}
}

// isSQLiteBusy reports whether err is SQLite's SQLITE_BUSY (any extended
// code), after which the statement changed nothing.
func isSQLiteBusy(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_BUSY
}
