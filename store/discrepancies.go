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

// The actions of the audit trail (a run's are reconcile.CaseAction's). A
// run opens, reopens, updates and resolves; people acknowledge and resolve.
const (
	ActionOpened       = "opened"
	ActionReopened     = "reopened"
	ActionResolved     = "resolved"
	ActionAcknowledged = "acknowledged"
	// ActionUpdated: a run found the case changed (kind, amounts); the
	// note says what changed.
	ActionUpdated = "updated"
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

const discrepancyColumns = `id, fingerprint, kind, status, customer_id, ledger_refund_id, gateway_refund_ids,
	charge_id, currency, gateway_currency, ledger_amount, gateway_amount, gateway_status, failure_reason, detail,
	first_seen_at, last_seen_at, payment_intent_id, refund_at, problem_since`

// discrepancyRow is a row of discrepancies, as discrepancyColumns reads it.
type discrepancyRow struct {
	ID               string         `db:"id"`
	Fingerprint      string         `db:"fingerprint"`
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
	PaymentIntentID  sql.NullString `db:"payment_intent_id"`
	RefundAt         dbTime         `db:"refund_at"`
	ProblemSince     dbTime         `db:"problem_since"`
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
		PaymentIntentID:  r.PaymentIntentID.String,
		RefundAt:         r.RefundAt.Time,
		ProblemSince:     r.ProblemSince.Time,
		Subject:          subjectOf(r),
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

// Discrepancies returns every discrepancy f selects (its sort, limit and
// cursor aside), oldest first: for the report and the runner, which want
// them all. The page and the API page through Cases.
func (db *DB) Discrepancies(ctx context.Context, f reconcile.CaseFilter) ([]reconcile.Discrepancy, error) {
	b := newBinder(db.dialect)
	q := `SELECT ` + discrepancyColumns + ` FROM discrepancies` + db.caseWhere(b, f) + ` ORDER BY first_seen_at, id`
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
	return db.Discrepancies(ctx, reconcile.CaseFilter{
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

// FinishRun records, in one transaction, the finished run and what
// reconcile.Decide makes of the run's findings; it decides nothing itself.
// Inside the transaction it checks the run's fence (recordFinished), reads
// the stored cases of the subjects involved (those found and those judged,
// locking their rows on PostgreSQL so that a person's acknowledgement
// cannot slip in between), hands them to Decide, and writes the changes:
// cases inserted or updated as Decide left them, resolutions, one history
// event per opening, reopening, update and resolution, and their alerts on
// the channels SetAlertChannels enabled (outbox.go).
//
// It returns Decide's changes. A run status of "" or running is recorded
// as succeeded.
func (db *DB) FinishRun(ctx context.Context, run reconcile.Run, found []reconcile.Discrepancy, judged map[string]string) (reconcile.Changes, error) {
	if run.Status == "" || run.Status == reconcile.RunRunning {
		run.Status = reconcile.RunSucceeded
	}
	run.FinishedAt = db.orNow(run.FinishedAt)
	at := storedTime(run.FinishedAt)

	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return reconcile.Changes{}, fmt.Errorf("finish run %s: begin: %w", run.ID, err)
	}
	defer tx.Rollback()
	if err := db.recordFinished(ctx, tx, run); err != nil {
		return reconcile.Changes{}, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	stored, err := db.lockStored(ctx, tx, found, judged)
	if err != nil {
		return reconcile.Changes{}, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	ch := reconcile.DecideRun(run, at, stored, found, judged)
	if err := db.applyChanges(ctx, tx, run.ID, at, ch); err != nil {
		return reconcile.Changes{}, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	if err := db.recordHeld(ctx, tx, ch.Held); err != nil {
		return reconcile.Changes{}, fmt.Errorf("finish run %s: %w", run.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return reconcile.Changes{}, fmt.Errorf("finish run %s: commit: %w", run.ID, err)
	}
	return ch, nil
}

// applyChanges writes ch inside tx: the cases, the resolutions, the
// history and the alerts.
func (db *DB) applyChanges(ctx context.Context, tx *sqlx.Tx, runID string, at time.Time, ch reconcile.Changes) error {
	var upserts []reconcile.Discrepancy
	var closing, reopened, updated []string
	var events []Event
	for _, c := range ch.Changes {
		id := c.Case.ID
		switch c.Action {
		case reconcile.CaseResolved:
			closing = append(closing, id)
		default:
			upserts = append(upserts, c.Case)
		}
		switch c.Action {
		case reconcile.CaseReopened:
			reopened = append(reopened, id)
		case reconcile.CaseUpdated:
			updated = append(updated, id)
		}
		if c.Action != reconcile.CaseRefreshed {
			events = append(events, Event{DiscrepancyID: id, Action: string(c.Action), FromStatus: c.From,
				ToStatus: c.Case.Status, Note: c.Note, At: at, Actor: RunActor, RunID: runID})
		}
	}
	size := upsertBatch
	if db.dialect == DialectPostgres {
		size = pgBatch
	}
	for chunk := range slices.Chunk(upserts, size) {
		if err := db.upsertDiscrepancies(ctx, tx, runID, at, chunk); err != nil {
			return fmt.Errorf("store discrepancies: %w", err)
		}
	}
	for chunk := range slices.Chunk(closing, db.idBatchSize()) {
		b := newBinder(db.dialect)
		q := `UPDATE discrepancies SET status = ` + b.add(string(reconcile.StatusResolved)) +
			`, resolved_at = ` + b.add(db.timeArg(at)) + `, updated_at = ` + b.add(db.timeArg(at)) +
			` WHERE ` + db.idIn(b, "id", chunk)
		if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
			return fmt.Errorf("resolve discrepancies: %w", err)
		}
	}
	// Counters of the alerts' idempotency keys: a reopening starts a new
	// cycle, an update counts one more update.
	for _, bump := range []struct {
		col string
		ids []string
	}{{"cycle", reopened}, {"updates", updated}} {
		for chunk := range slices.Chunk(bump.ids, db.idBatchSize()) {
			b := newBinder(db.dialect)
			q := `UPDATE discrepancies SET ` + bump.col + ` = ` + bump.col + ` + 1 WHERE ` + db.idIn(b, "id", chunk)
			if _, err := tx.ExecContext(ctx, q, b.args...); err != nil {
				return fmt.Errorf("count %s: %w", bump.col, err)
			}
		}
	}
	if err := db.insertEvents(ctx, tx, events); err != nil {
		return err
	}
	return db.enqueueAlerts(ctx, tx, runID, at, ch)
}

// lockStored reads the stored cases Decide needs: those of the subjects
// found or judged. Cases written before identity by subject are found by
// their columns (ledger refund id; the one gateway refund of an unmatched
// refund; an id-less row's old fingerprint). Rows are locked on PostgreSQL.
func (db *DB) lockStored(ctx context.Context, tx *sqlx.Tx, found []reconcile.Discrepancy, judged map[string]string) ([]reconcile.Discrepancy, error) {
	return db.readStored(ctx, tx, found, judged, true)
}

// readStored is lockStored, locking the rows only when lock is true.
func (db *DB) readStored(ctx context.Context, tx *sqlx.Tx, found []reconcile.Discrepancy, judged map[string]string, lock bool) ([]reconcile.Discrepancy, error) {
	var fps, ledgerIDs, gatewayIDs []string
	add := func(subj string) {
		fps = append(fps, subj)
		switch {
		case strings.HasPrefix(subj, "ledger:"):
			ledgerIDs = append(ledgerIDs, strings.TrimPrefix(subj, "ledger:"))
		case strings.HasPrefix(subj, "gateway:"):
			gatewayIDs = append(gatewayIDs, strings.TrimPrefix(subj, "gateway:"))
		case strings.HasPrefix(subj, "row:"):
			fps = append(fps, string(reconcile.InvalidLedgerRow)+"|"+subj+"|")
		}
	}
	for i := range found {
		add(found[i].Fingerprint())
	}
	for subj := range judged {
		add(subj)
	}
	byID := map[string]reconcile.Discrepancy{}
	for _, key := range []struct {
		cond string
		ids  []string
	}{{"fingerprint", fps}, {"ledger_refund_id", ledgerIDs}, {"gateway_refund_ids", gatewayIDs}} {
		slices.Sort(key.ids)
		for chunk := range slices.Chunk(slices.Compact(key.ids), db.idBatchSize()) {
			b := newBinder(db.dialect)
			q := `SELECT ` + discrepancyColumns + ` FROM discrepancies WHERE ` + db.idIn(b, key.cond, chunk)
			if key.cond == "gateway_refund_ids" {
				q += ` AND ledger_refund_id IS NULL`
			}
			if lock && db.dialect == DialectPostgres {
				q += ` FOR UPDATE`
			}
			var rows []discrepancyRow
			if err := tx.SelectContext(ctx, &rows, q, b.args...); err != nil {
				return nil, fmt.Errorf("read stored discrepancies: %w", err)
			}
			for _, r := range rows {
				byID[r.ID] = r.discrepancy()
			}
		}
	}
	out := make([]reconcile.Discrepancy, 0, len(byID))
	for _, d := range byID {
		out = append(out, d)
	}
	return out, nil
}

// subjectOf is the subject of a stored row: its fingerprint, or for a row
// written before identity by subject, the subject its columns name.
func subjectOf(r discrepancyRow) string {
	fp := r.Fingerprint
	for _, p := range []string{"ledger:", "gateway:", "row:"} {
		if strings.HasPrefix(fp, p) {
			return fp
		}
	}
	if r.LedgerRefundID.String != "" {
		return "ledger:" + r.LedgerRefundID.String
	}
	if i, j := strings.Index(fp, "|row:"), strings.LastIndex(fp, "|"); i >= 0 && j > i {
		return fp[i+1 : j]
	}
	return "gateway:" + r.GatewayRefundIDs
}

// upsertDiscrepancies writes cases as Decide left them in one multi-row
// INSERT … ON CONFLICT: new ones are inserted; stored ones keep their id,
// first sighting and first run, and take everything else, status included.
func (db *DB) upsertDiscrepancies(ctx context.Context, tx *sqlx.Tx, runID string, at time.Time, cases []reconcile.Discrepancy) error {
	if db.dialect == DialectPostgres {
		return db.upsertDiscrepanciesPostgres(ctx, tx, runID, at, cases)
	}
	b := newBinder(db.dialect)
	var sb strings.Builder
	sb.WriteString(`INSERT INTO discrepancies (id, fingerprint, kind, status, customer_id, ledger_refund_id,
	gateway_refund_ids, charge_id, currency, ledger_amount, gateway_amount, gateway_status,
	failure_reason, detail, first_seen_at, last_seen_at, first_run_id, last_run_id, gateway_currency,
	payment_intent_id, refund_at, problem_since, at_risk_amount, at_risk_currency, resolved_at, updated_at)
VALUES `)
	ts := db.timeArg(at)
	for i, d := range cases {
		if i > 0 {
			sb.WriteString(",\n\t")
		}
		vals := []any{
			d.ID, d.Fingerprint(), string(d.Kind), string(d.Status),
			nullString(d.CustomerID), nullString(d.LedgerRefundID), strings.Join(d.GatewayRefundIDs, ","),
			nullString(d.ChargeID), nullString(d.Currency), nullInt(d.LedgerAmount), nullInt(d.GatewayAmount),
			nullString(string(d.GatewayStatus)), nullString(d.FailureReason), d.Detail,
			db.timeArg(d.FirstSeenAt), ts, runID, runID, nullString(d.GatewayCurrency),
		}
		risk, riskCurrency := reconcile.AtRisk(d)
		vals = append(vals, nullString(d.PaymentIntentID), db.nullTimeArg(d.RefundAt), db.nullTimeArg(d.ProblemSince),
			risk, riskCurrency)
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
	fingerprint = excluded.fingerprint,
	kind = excluded.kind,
	status = excluded.status,
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
	payment_intent_id = excluded.payment_intent_id,
	refund_at = excluded.refund_at,
	problem_since = COALESCE(excluded.problem_since, discrepancies.problem_since),
	at_risk_amount = excluded.at_risk_amount,
	at_risk_currency = excluded.at_risk_currency,
	resolved_at = NULL,
	updated_at = excluded.updated_at`

// upsertDiscrepanciesPostgres is upsertDiscrepancies in one statement of
// PostgreSQL: each column is one array parameter, unnested. Parsing and
// planning a statement of thousands of parameters costs more than the
// writes.
func (db *DB) upsertDiscrepanciesPostgres(ctx context.Context, tx *sqlx.Tx, runID string, at time.Time, cases []reconcile.Discrepancy) error {
	n := len(cases)
	texts := func() []string { return make([]string, n) }
	nullTexts := func() []sql.NullString { return make([]sql.NullString, n) }
	id, fingerprint, kind, gatewayIDs, detail, status, first := texts(), texts(), texts(), texts(), texts(), texts(), texts()
	customer, ledgerRefund, charge := nullTexts(), nullTexts(), nullTexts()
	currency, gatewayStatus, failure, gatewayCurrency := nullTexts(), nullTexts(), nullTexts(), nullTexts()
	ledgerAmount, gatewayAmount := make([]sql.NullInt64, n), make([]sql.NullInt64, n)
	paymentIntent, riskCurrency := nullTexts(), texts()
	refundAt, problemSince := nullTexts(), nullTexts()
	risk := make([]int64, n)
	str := func(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }
	num := func(p *int64) sql.NullInt64 {
		if p == nil {
			return sql.NullInt64{}
		}
		return sql.NullInt64{Int64: *p, Valid: true}
	}
	for i, d := range cases {
		id[i], fingerprint[i], kind[i], status[i] = d.ID, d.Fingerprint(), string(d.Kind), string(d.Status)
		first[i] = storedTime(d.FirstSeenAt).Format(time.RFC3339Nano)
		gatewayIDs[i], detail[i] = strings.Join(d.GatewayRefundIDs, ","), d.Detail
		customer[i], ledgerRefund[i], charge[i] = str(d.CustomerID), str(d.LedgerRefundID), str(d.ChargeID)
		currency[i], gatewayStatus[i], failure[i] = str(d.Currency), str(string(d.GatewayStatus)), str(d.FailureReason)
		ledgerAmount[i], gatewayAmount[i] = num(d.LedgerAmount), num(d.GatewayAmount)
		gatewayCurrency[i] = str(d.GatewayCurrency)
		paymentIntent[i] = str(d.PaymentIntentID)
		risk[i], riskCurrency[i] = reconcile.AtRisk(d)
		if !d.RefundAt.IsZero() {
			refundAt[i] = str(storedTime(d.RefundAt).Format(time.RFC3339Nano))
		}
		if !d.ProblemSince.IsZero() {
			problemSince[i] = str(storedTime(d.ProblemSince).Format(time.RFC3339Nano))
		}
	}
	q := `INSERT INTO discrepancies (id, fingerprint, kind, status, customer_id, ledger_refund_id,
	gateway_refund_ids, charge_id, currency, ledger_amount, gateway_amount, gateway_status,
	failure_reason, detail, first_seen_at, last_seen_at, first_run_id, last_run_id, gateway_currency,
	payment_intent_id, refund_at, problem_since, at_risk_amount, at_risk_currency, resolved_at, updated_at)
SELECT v.id, v.fingerprint, v.kind, v.status, v.customer_id, v.ledger_refund_id,
	v.gateway_refund_ids, v.charge_id, v.currency, v.ledger_amount, v.gateway_amount, v.gateway_status,
	v.failure_reason, v.detail, v.first_seen_at, $14::timestamptz, $15::text, $15::text, v.gateway_currency,
	v.payment_intent_id, v.refund_at, v.problem_since, v.at_risk_amount, v.at_risk_currency, NULL::timestamptz, $14::timestamptz
FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::bigint[], $10::bigint[], $11::text[], $12::text[], $13::text[], $16::text[], $17::text[], $18::timestamptz[],
	$19::text[], $20::timestamptz[], $21::timestamptz[], $22::bigint[], $23::text[])
	AS v(id, fingerprint, kind, customer_id, ledger_refund_id, gateway_refund_ids, charge_id, currency,
	ledger_amount, gateway_amount, gateway_status, failure_reason, detail, gateway_currency, status, first_seen_at,
	payment_intent_id, refund_at, problem_since, at_risk_amount, at_risk_currency)` + upsertConflict
	_, err := tx.ExecContext(ctx, q,
		pq.Array(id), pq.Array(fingerprint), pq.Array(kind), pq.Array(customer), pq.Array(ledgerRefund),
		pq.Array(gatewayIDs), pq.Array(charge), pq.Array(currency), pq.Array(ledgerAmount), pq.Array(gatewayAmount),
		pq.Array(gatewayStatus), pq.Array(failure), pq.Array(detail), db.timeArg(at), runID, pq.Array(gatewayCurrency),
		pq.Array(status), pq.Array(first),
		pq.Array(paymentIntent), pq.Array(refundAt), pq.Array(problemSince), pq.Array(risk), pq.Array(riskCurrency))
	return err
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
