package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	"github.com/lib/pq"

	"github.com/refundrecon/refundrecon/reconcile"
)

// The actions of the audit trail. A run opens, reopens and resolves; people
// acknowledge and resolve.
const (
	ActionOpened       = "opened"
	ActionReopened     = "reopened"
	ActionResolved     = "resolved"
	ActionAcknowledged = "acknowledged"
)

// RunActor is the actor of the events a run writes.
const RunActor = "refundrecon"

// Statement sizes on SQLite: rows per multi-row INSERT and ids per IN list,
// under its 32766 parameters. PostgreSQL takes whole columns as arrays
// instead (unnest, = ANY), pgBatch rows a statement.
const (
	upsertBatch = 500
	eventBatch  = 1000
	idBatch     = 1000
	pgBatch     = 20000
)

// idBatchSize is how many ids idIn takes in one statement.
func (db *DB) idBatchSize() int {
	if db.dialect == DialectPostgres {
		return pgBatch
	}
	return idBatch
}

// idIn returns the condition "column is one of ids", bound to b: one array
// parameter on PostgreSQL, an IN list on SQLite.
func (db *DB) idIn(b *binder, column string, ids []string) string {
	if db.dialect == DialectPostgres {
		return column + " = ANY(" + b.add(pq.Array(ids)) + "::text[])"
	}
	return column + " IN (" + b.list(ids) + ")"
}

// Filter selects discrepancies; a zero field selects everything.
type Filter struct {
	Statuses   []reconcile.Status
	Kind       reconcile.Kind
	CustomerID string
}

// Event is one entry of a discrepancy's audit trail.
type Event struct {
	ID            int64
	DiscrepancyID string
	At            time.Time
	// Actor is RunActor for a run, the API token's or --by name for a person.
	Actor  string
	Action string
	// FromStatus is empty for ActionOpened.
	FromStatus reconcile.Status
	ToStatus   reconcile.Status
	Note       string
	// RunID is the run that wrote the event; empty for a person's.
	RunID string
}

const discrepancyColumns = `id, kind, status, customer_id, ledger_refund_id, gateway_refund_ids,
	charge_id, currency, gateway_currency, ledger_amount, gateway_amount, gateway_status, failure_reason, detail,
	first_seen_at, last_seen_at`

// discrepancyRow is a row of discrepancies, as discrepancyColumns reads it.
type discrepancyRow struct {
	ID               string         `db:"id"`
	Kind             string         `db:"kind"`
	Status           string         `db:"status"`
	CustomerID       sql.NullString `db:"customer_id"`
	LedgerRefundID   sql.NullString `db:"ledger_refund_id"`
	GatewayRefundIDs string         `db:"gateway_refund_ids"`
	ChargeID         sql.NullString `db:"charge_id"`
	Currency         sql.NullString `db:"currency"`
	GatewayCurrency  sql.NullString `db:"gateway_currency"`
	LedgerAmount     sql.NullInt64  `db:"ledger_amount"`
	GatewayAmount    sql.NullInt64  `db:"gateway_amount"`
	GatewayStatus    sql.NullString `db:"gateway_status"`
	FailureReason    sql.NullString `db:"failure_reason"`
	Detail           string         `db:"detail"`
	FirstSeenAt      dbTime         `db:"first_seen_at"`
	LastSeenAt       dbTime         `db:"last_seen_at"`
}

func (r discrepancyRow) discrepancy() reconcile.Discrepancy {
	ids := []string{}
	if r.GatewayRefundIDs != "" {
		ids = strings.Split(r.GatewayRefundIDs, ",")
	}
	amount := func(n sql.NullInt64) *int64 {
		if !n.Valid {
			return nil
		}
		return &n.Int64
	}
	return reconcile.Discrepancy{
		ID:               r.ID,
		Kind:             reconcile.Kind(r.Kind),
		Status:           reconcile.Status(r.Status),
		CustomerID:       r.CustomerID.String,
		LedgerRefundID:   r.LedgerRefundID.String,
		GatewayRefundIDs: ids,
		ChargeID:         r.ChargeID.String,
		Currency:         r.Currency.String,
		GatewayCurrency:  r.GatewayCurrency.String,
		LedgerAmount:     amount(r.LedgerAmount),
		GatewayAmount:    amount(r.GatewayAmount),
		GatewayStatus:    reconcile.GatewayStatus(r.GatewayStatus.String),
		FailureReason:    r.FailureReason.String,
		Detail:           r.Detail,
		FirstSeenAt:      r.FirstSeenAt.Time,
		LastSeenAt:       r.LastSeenAt.Time,
	}
}

// Discrepancy returns the discrepancy with id, or an error wrapping
// reconcile.ErrNotFound.
func (db *DB) Discrepancy(ctx context.Context, id string) (reconcile.Discrepancy, error) {
	var r discrepancyRow
	err := db.db.GetContext(ctx, &r, db.db.Rebind(`SELECT `+discrepancyColumns+` FROM discrepancies WHERE id = ?`), id)
	if errors.Is(err, sql.ErrNoRows) {
		return reconcile.Discrepancy{}, fmt.Errorf("discrepancy %s: %w", id, reconcile.ErrNotFound)
	}
	if err != nil {
		return reconcile.Discrepancy{}, fmt.Errorf("read discrepancy %s: %w", id, err)
	}
	return r.discrepancy(), nil
}

// Discrepancies returns the discrepancies f selects, oldest first.
func (db *DB) Discrepancies(ctx context.Context, f Filter) ([]reconcile.Discrepancy, error) {
	b := newBinder(db.dialect)
	var where []string
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			statuses[i] = string(s)
		}
		where = append(where, "status IN ("+b.list(statuses)+")")
	}
	if f.Kind != "" {
		where = append(where, "kind = "+b.add(string(f.Kind)))
	}
	if f.CustomerID != "" {
		where = append(where, "customer_id = "+b.add(f.CustomerID))
	}
	q := `SELECT ` + discrepancyColumns + ` FROM discrepancies`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	q += ` ORDER BY first_seen_at, id`
	var rows []discrepancyRow
	if err := db.db.SelectContext(ctx, &rows, q, b.args...); err != nil {
		return nil, fmt.Errorf("list discrepancies: %w", err)
	}
	out := make([]reconcile.Discrepancy, len(rows))
	for i, r := range rows {
		out[i] = r.discrepancy()
	}
	return out, nil
}

// OpenDiscrepancies returns the discrepancies not resolved (open or
// acknowledged), of customerID when it is not empty.
func (db *DB) OpenDiscrepancies(ctx context.Context, customerID string) ([]reconcile.Discrepancy, error) {
	return db.Discrepancies(ctx, Filter{
		Statuses:   []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged},
		CustomerID: customerID,
	})
}

// eventRow is a row of discrepancy_events.
type eventRow struct {
	ID            int64          `db:"id"`
	DiscrepancyID string         `db:"discrepancy_id"`
	At            dbTime         `db:"at"`
	Actor         string         `db:"actor"`
	Action        string         `db:"action"`
	FromStatus    sql.NullString `db:"from_status"`
	ToStatus      string         `db:"to_status"`
	Note          string         `db:"note"`
	RunID         sql.NullString `db:"run_id"`
}

// Events returns the audit trail of a discrepancy, oldest first; empty when
// there is no such discrepancy.
func (db *DB) Events(ctx context.Context, discrepancyID string) ([]Event, error) {
	var rows []eventRow
	err := db.db.SelectContext(ctx, &rows, db.db.Rebind(`SELECT id, discrepancy_id, at, actor, action,
	from_status, to_status, note, run_id
FROM discrepancy_events WHERE discrepancy_id = ? ORDER BY id`), discrepancyID)
	if err != nil {
		return nil, fmt.Errorf("list events of discrepancy %s: %w", discrepancyID, err)
	}
	out := make([]Event, len(rows))
	for i, r := range rows {
		out[i] = Event{
			ID:            r.ID,
			DiscrepancyID: r.DiscrepancyID,
			At:            r.At.Time,
			Actor:         r.Actor,
			Action:        r.Action,
			FromStatus:    reconcile.Status(r.FromStatus.String),
			ToStatus:      reconcile.Status(r.ToStatus),
			Note:          r.Note,
			RunID:         r.RunID.String,
		}
	}
	return out, nil
}

// known is what FinishRun needs of a stored discrepancy.
type known struct {
	status    reconcile.Status
	firstSeen time.Time
}

// FinishRun records, in one transaction, the finished run, the
// discrepancies it found and the ids it resolved:
//   - a found discrepancy not stored yet is inserted as open, first and last
//     seen at run.FinishedAt, with an "opened" event, and returned New;
//   - a stored one gets its descriptive columns refreshed and is last seen
//     now; open and acknowledged stay so, resolved is reopened with a
//     "reopened" event;
//   - a resolved id that is open or acknowledged becomes resolved, with a
//     "resolved" event; an id also found is left alone;
//   - every opening, reopening and resolution enqueues its alerts on the
//     channels SetAlertChannels enabled (outbox.go).
//
// It returns found with ID (derived from the fingerprint when empty), Status,
// New, FirstSeenAt and LastSeenAt as stored, and GatewayRefundIDs sorted.
// The work is batched: one look-up per 1000 ids, one multi-row upsert per 500
// discrepancies, one insert per 1000 events. A run status of "" or running
// is recorded as succeeded.
func (db *DB) FinishRun(ctx context.Context, run reconcile.Run, found []reconcile.Discrepancy, resolved []string) ([]reconcile.Discrepancy, error) {
	if run.Status == "" || run.Status == reconcile.RunRunning {
		run.Status = reconcile.RunSucceeded
	}
	run.FinishedAt = db.orNow(run.FinishedAt)
	at := storedTime(run.FinishedAt)

	out := make([]reconcile.Discrepancy, len(found))
	last := make(map[string]int, len(found)) // id → its last index in found
	var order []string                       // distinct ids, in order
	for i, d := range found {
		d.GatewayRefundIDs = slices.Sorted(slices.Values(d.GatewayRefundIDs))
		if d.GatewayRefundIDs == nil {
			d.GatewayRefundIDs = []string{}
		}
		if d.ID == "" {
			d.ID = reconcile.DiscrepancyID(d.Fingerprint())
		}
		out[i] = d
		if _, ok := last[d.ID]; !ok {
			order = append(order, d.ID)
		}
		last[d.ID] = i
	}

	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("finish run %s: begin: %w", run.ID, err)
	}
	defer tx.Rollback()

	if err := db.recordFinished(ctx, tx, run); err != nil {
		return nil, fmt.Errorf("finish run %s: %w", run.ID, err)
	}

	existing, err := db.lockKnown(ctx, tx, order)
	if err != nil {
		return nil, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	size := upsertBatch
	if db.dialect == DialectPostgres {
		size = pgBatch
	}
	for chunk := range slices.Chunk(order, size) {
		if err := db.upsertDiscrepancies(ctx, tx, run.ID, at, out, last, chunk); err != nil {
			return nil, fmt.Errorf("finish run %s: store discrepancies: %w", run.ID, err)
		}
	}

	var events []Event
	state := make(map[string]known, len(order))
	for _, id := range order {
		k, ok := existing[id]
		switch {
		case !ok:
			state[id] = known{status: reconcile.StatusOpen, firstSeen: at}
			events = append(events, Event{DiscrepancyID: id, Action: ActionOpened, ToStatus: reconcile.StatusOpen})
		case k.status == reconcile.StatusResolved:
			state[id] = known{status: reconcile.StatusOpen, firstSeen: k.firstSeen}
			events = append(events, Event{DiscrepancyID: id, Action: ActionReopened,
				FromStatus: reconcile.StatusResolved, ToStatus: reconcile.StatusOpen})
		default:
			state[id] = k
		}
	}
	for i := range out {
		k := state[out[i].ID]
		_, stored := existing[out[i].ID]
		out[i].Status = k.status
		out[i].New = !stored
		out[i].FirstSeenAt = k.firstSeen
		out[i].LastSeenAt = at
	}

	var toResolve []string
	seen := map[string]bool{}
	for _, id := range resolved {
		if _, isFound := last[id]; !isFound && !seen[id] {
			seen[id] = true
			toResolve = append(toResolve, id)
		}
	}
	resolvable, err := db.lockKnown(ctx, tx, toResolve)
	if err != nil {
		return nil, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	var closing []string
	for _, id := range toResolve {
		if k, ok := resolvable[id]; ok && k.status != reconcile.StatusResolved {
			closing = append(closing, id)
			events = append(events, Event{DiscrepancyID: id, Action: ActionResolved,
				FromStatus: k.status, ToStatus: reconcile.StatusResolved})
		}
	}
	for chunk := range slices.Chunk(closing, db.idBatchSize()) {
		b := newBinder(db.dialect)
		q := `UPDATE discrepancies SET status = ` + b.add(string(reconcile.StatusResolved)) +
			`, resolved_at = ` + b.add(db.timeArg(at)) + `, updated_at = ` + b.add(db.timeArg(at)) +
			` WHERE ` + db.idIn(b, "id", chunk) + ` AND status IN ('open', 'acknowledged')`
		if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
			return nil, fmt.Errorf("finish run %s: resolve discrepancies: %w", run.ID, err)
		}
	}

	for i := range events {
		events[i].At, events[i].Actor, events[i].RunID = at, RunActor, run.ID
	}
	if err := db.insertEvents(ctx, tx, events); err != nil {
		return nil, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	// The alerts of these changes, in the same transaction (outbox.go).
	if err := db.enqueueAlerts(ctx, tx, run.ID, at, out, events); err != nil {
		return nil, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("finish run %s: commit: %w", run.ID, err)
	}
	return out, nil
}

// recordFinished is FinishRun's first step: it checks the run's fence, then
// records the run, but only over a row still running (or none: a run
// StartRun never recorded). A run another process recorded failed (an
// orphan, as it thought, after this run lost its lock) stays failed: the
// error wraps reconcile.ErrFenced and the transaction must end unapplied.
func (db *DB) recordFinished(ctx context.Context, tx *sqlx.Tx, run reconcile.Run) error {
	if err := db.checkFence(ctx, tx, run.Fence); err != nil {
		return err
	}
	b := newBinder(db.dialect)
	q := db.insertRun(b, run) + `
ON CONFLICT (id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at,
	ledger_refunds = excluded.ledger_refunds, gateway_refunds = excluded.gateway_refunds,
	matched = excluded.matched, discrepancies = excluded.discrepancies, error = excluded.error
WHERE runs.status = ` + b.add(string(reconcile.RunRunning))
	res, err := tx.ExecContext(ctx, q, b.args...)
	if err != nil {
		return fmt.Errorf("record run: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("record run: %w", err)
	} else if n == 0 {
		var status string
		_ = tx.GetContext(ctx, &status, db.db.Rebind(`SELECT status FROM runs WHERE id = ?`), run.ID)
		return fmt.Errorf("%w: the run is already recorded %s", reconcile.ErrFenced, status)
	}
	return nil
}

// lockKnown reads the status and first sighting of the stored discrepancies
// among ids, locking their rows on PostgreSQL so that a person's
// acknowledgement cannot slip in between the read and FinishRun's writes.
func (db *DB) lockKnown(ctx context.Context, tx *sqlx.Tx, ids []string) (map[string]known, error) {
	out := make(map[string]known, len(ids))
	for chunk := range slices.Chunk(ids, db.idBatchSize()) {
		b := newBinder(db.dialect)
		q := `SELECT id, status, first_seen_at FROM discrepancies WHERE ` + db.idIn(b, "id", chunk)
		if db.dialect == DialectPostgres {
			q += ` FOR UPDATE`
		}
		rows, err := tx.QueryContext(ctx, q, b.args...)
		if err != nil {
			return nil, fmt.Errorf("read stored discrepancies: %w", err)
		}
		for rows.Next() {
			var id, status string
			var first dbTime
			if err := rows.Scan(&id, &status, &first); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read stored discrepancies: %w", err)
			}
			out[id] = known{status: reconcile.Status(status), firstSeen: first.Time}
		}
		if err := rows.Close(); err != nil {
			return nil, fmt.Errorf("read stored discrepancies: %w", err)
		}
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read stored discrepancies: %w", err)
		}
	}
	return out, nil
}

// upsertDiscrepancies writes the discrepancies ids name (each the last of
// its id in found) in one multi-row INSERT … ON CONFLICT: new ones are
// inserted open; stored ones keep id, fingerprint, status (a resolved one
// reopens), first sighting and first run, and take everything else.
func (db *DB) upsertDiscrepancies(ctx context.Context, tx *sqlx.Tx, runID string, at time.Time,
	found []reconcile.Discrepancy, last map[string]int, ids []string) error {
	if db.dialect == DialectPostgres {
		return db.upsertDiscrepanciesPostgres(ctx, tx, runID, at, found, last, ids)
	}
	b := newBinder(db.dialect)
	var sb strings.Builder
	sb.WriteString(`INSERT INTO discrepancies (id, fingerprint, kind, status, customer_id, ledger_refund_id,
	gateway_refund_ids, charge_id, currency, ledger_amount, gateway_amount, gateway_status,
	failure_reason, detail, first_seen_at, last_seen_at, first_run_id, last_run_id, gateway_currency, resolved_at, updated_at)
VALUES `)
	ts := db.timeArg(at)
	for i, id := range ids {
		d := found[last[id]]
		if i > 0 {
			sb.WriteString(",\n\t")
		}
		vals := []any{
			d.ID, d.Fingerprint(), string(d.Kind), string(reconcile.StatusOpen),
			nullString(d.CustomerID), nullString(d.LedgerRefundID), strings.Join(d.GatewayRefundIDs, ","),
			nullString(d.ChargeID), nullString(d.Currency), nullInt(d.LedgerAmount), nullInt(d.GatewayAmount),
			nullString(string(d.GatewayStatus)), nullString(d.FailureReason), d.Detail,
			ts, ts, runID, runID, nullString(d.GatewayCurrency),
		}
		sb.WriteByte('(')
		for _, v := range vals {
			sb.WriteString(b.add(v))
			sb.WriteString(", ")
		}
		sb.WriteString("NULL, ")
		sb.WriteString(b.add(ts))
		sb.WriteByte(')')
	}
	sb.WriteString(upsertConflict)
	_, err := tx.ExecContext(ctx, sb.String(), b.args...)
	return err
}

// upsertConflict is how an upsert of discrepancies treats a stored one.
const upsertConflict = `
ON CONFLICT (id) DO UPDATE SET
	status = CASE WHEN discrepancies.status = 'resolved' THEN 'open' ELSE discrepancies.status END,
	customer_id = excluded.customer_id,
	ledger_refund_id = excluded.ledger_refund_id,
	gateway_refund_ids = excluded.gateway_refund_ids,
	charge_id = excluded.charge_id,
	currency = excluded.currency,
	gateway_currency = excluded.gateway_currency,
	ledger_amount = excluded.ledger_amount,
	gateway_amount = excluded.gateway_amount,
	gateway_status = excluded.gateway_status,
	failure_reason = excluded.failure_reason,
	detail = excluded.detail,
	last_seen_at = excluded.last_seen_at,
	last_run_id = excluded.last_run_id,
	resolved_at = NULL,
	updated_at = excluded.updated_at`

// upsertDiscrepanciesPostgres is upsertDiscrepancies in one statement of
// PostgreSQL: each column is one array parameter, unnested. Parsing and
// planning a statement of thousands of parameters costs more than the
// writes.
func (db *DB) upsertDiscrepanciesPostgres(ctx context.Context, tx *sqlx.Tx, runID string, at time.Time,
	found []reconcile.Discrepancy, last map[string]int, ids []string) error {
	n := len(ids)
	texts := func() []string { return make([]string, n) }
	nullTexts := func() []sql.NullString { return make([]sql.NullString, n) }
	id, fingerprint, kind, gatewayIDs, detail := texts(), texts(), texts(), texts(), texts()
	customer, ledgerRefund, charge := nullTexts(), nullTexts(), nullTexts()
	currency, gatewayStatus, failure, gatewayCurrency := nullTexts(), nullTexts(), nullTexts(), nullTexts()
	ledgerAmount, gatewayAmount := make([]sql.NullInt64, n), make([]sql.NullInt64, n)
	str := func(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
	num := func(p *int64) sql.NullInt64 {
		if p == nil {
			return sql.NullInt64{}
		}
		return sql.NullInt64{Int64: *p, Valid: true}
	}
	for i, x := range ids {
		d := found[last[x]]
		id[i], fingerprint[i], kind[i] = d.ID, d.Fingerprint(), string(d.Kind)
		gatewayIDs[i], detail[i] = strings.Join(d.GatewayRefundIDs, ","), d.Detail
		customer[i], ledgerRefund[i], charge[i] = str(d.CustomerID), str(d.LedgerRefundID), str(d.ChargeID)
		currency[i], gatewayStatus[i], failure[i] = str(d.Currency), str(string(d.GatewayStatus)), str(d.FailureReason)
		ledgerAmount[i], gatewayAmount[i] = num(d.LedgerAmount), num(d.GatewayAmount)
		gatewayCurrency[i] = str(d.GatewayCurrency)
	}
	q := `INSERT INTO discrepancies (id, fingerprint, kind, status, customer_id, ledger_refund_id,
	gateway_refund_ids, charge_id, currency, ledger_amount, gateway_amount, gateway_status,
	failure_reason, detail, first_seen_at, last_seen_at, first_run_id, last_run_id, gateway_currency, resolved_at, updated_at)
SELECT v.id, v.fingerprint, v.kind, 'open', v.customer_id, v.ledger_refund_id,
	v.gateway_refund_ids, v.charge_id, v.currency, v.ledger_amount, v.gateway_amount, v.gateway_status,
	v.failure_reason, v.detail, $14::timestamptz, $14::timestamptz, $15::text, $15::text, v.gateway_currency,
	NULL::timestamptz, $14::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $16::text[])
	AS v(id, fingerprint, kind, customer_id, ledger_refund_id, gateway_refund_ids, charge_id, currency,
	ledger_amount, gateway_amount, gateway_status, failure_reason, detail, gateway_currency)` + upsertConflict
	_, err := tx.ExecContext(ctx, q,
		pq.Array(id), pq.Array(fingerprint), pq.Array(kind), pq.Array(customer), pq.Array(ledgerRefund),
		pq.Array(gatewayIDs), pq.Array(charge), pq.Array(currency), pq.Array(ledgerAmount), pq.Array(gatewayAmount),
		pq.Array(gatewayStatus), pq.Array(failure), pq.Array(detail), db.timeArg(at), runID, pq.Array(gatewayCurrency))
	return err
}

// insertEvents appends events to the audit trail, eventBatch rows per
// statement.
func (db *DB) insertEvents(ctx context.Context, tx *sqlx.Tx, events []Event) error {
	if db.dialect == DialectPostgres {
		return db.insertEventsPostgres(ctx, tx, events)
	}
	for chunk := range slices.Chunk(events, eventBatch) {
		b := newBinder(db.dialect)
		var sb strings.Builder
		sb.WriteString(`INSERT INTO discrepancy_events
	(discrepancy_id, at, actor, action, from_status, to_status, note, run_id) VALUES `)
		for i, e := range chunk {
			if i > 0 {
				sb.WriteString(", ")
			}
			sb.WriteString("(" + b.add(e.DiscrepancyID) + ", " + b.add(db.timeArg(e.At)) + ", " +
				b.add(e.Actor) + ", " + b.add(e.Action) + ", " + b.add(nullString(string(e.FromStatus))) + ", " +
				b.add(string(e.ToStatus)) + ", " + b.add(e.Note) + ", " + b.add(nullString(e.RunID)) + ")")
		}
		if _, err := tx.ExecContext(ctx, sb.String(), b.args...); err != nil {
			return fmt.Errorf("record events: %w", err)
		}
	}
	return nil
}

// insertEventsPostgres is insertEvents in statements of pgBatch events, one
// array parameter a column, in order.
func (db *DB) insertEventsPostgres(ctx context.Context, tx *sqlx.Tx, events []Event) error {
	for chunk := range slices.Chunk(events, pgBatch) {
		n := len(chunk)
		id, actor, action, to, note := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		at := make([]string, n)
		from, run := make([]sql.NullString, n), make([]sql.NullString, n)
		for i, e := range chunk {
			id[i], actor[i], action[i], to[i], note[i] = e.DiscrepancyID, e.Actor, e.Action, string(e.ToStatus), e.Note
			at[i] = storedTime(e.At).Format(time.RFC3339Nano)
			from[i] = sql.NullString{String: string(e.FromStatus), Valid: e.FromStatus != ""}
			run[i] = sql.NullString{String: e.RunID, Valid: e.RunID != ""}
		}
		q := `INSERT INTO discrepancy_events (discrepancy_id, at, actor, action, from_status, to_status, note, run_id)
SELECT v.discrepancy_id, v.at, v.actor, v.action, v.from_status, v.to_status, v.note, v.run_id
FROM unnest($1::text[], $2::timestamptz[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[])
	WITH ORDINALITY AS v(discrepancy_id, at, actor, action, from_status, to_status, note, run_id, n)
ORDER BY v.n`
		_, err := tx.ExecContext(ctx, q, pq.Array(id), pq.Array(at), pq.Array(actor), pq.Array(action),
			pq.Array(from), pq.Array(to), pq.Array(note), pq.Array(run))
		if err != nil {
			return fmt.Errorf("record events: %w", err)
		}
	}
	return nil
}
