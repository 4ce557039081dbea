package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// batch is how many slots a loader holds at once.
const batch = 50_000

// LoadFake puts the gateway side into fs: charges and refunds with the
// fake's bulk loaders, then the late failures, then sorts its indexes.
func (d Dataset) LoadFake(fs *fakestripe.Server) error {
	fs.Reserve(d.N, d.N+d.N/plantEvery)
	cs := make([]fakestripe.Charge, 0, batch)
	rs := make([]fakestripe.Refund, 0, batch+batch/plantEvery)
	type failure struct {
		id, reason string
		at         time.Time
	}
	var fails []failure
	flush := func() error {
		if err := fs.AddCharges(cs); err != nil {
			return fmt.Errorf("load fake stripe: %w", err)
		}
		if err := fs.AddRefunds(rs); err != nil {
			return fmt.Errorf("load fake stripe: %w", err)
		}
		cs, rs = cs[:0], rs[:0]
		return nil
	}
	var s Slot
	for i := range d.N {
		d.Slot(i, &s)
		cs = append(cs, s.Charge)
		rs = append(rs, s.Gateway...)
		if !s.FailAt.IsZero() {
			fails = append(fails, failure{s.Gateway[0].ID, s.FailReason, s.FailAt})
		}
		if len(cs) == batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	for _, f := range fails {
		if err := fs.FailRefund(f.id, f.reason, f.at); err != nil {
			return fmt.Errorf("load fake stripe: %w", err)
		}
	}
	fs.Prepare()
	return nil
}

// LoadLedger writes the ledger side into db's ledger_refunds table with
// store's own loader (COPY on PostgreSQL), a batch at a time.
func (d Dataset) LoadLedger(ctx context.Context, db *store.DB) error {
	rows := make([]reconcile.LedgerRefund, 0, batch)
	var s Slot
	for i := range d.N {
		d.Slot(i, &s)
		if s.HasLedger {
			rows = append(rows, s.Ledger)
		}
		if len(rows) == batch || i == d.N-1 {
			if err := db.InsertLedgerRefunds(ctx, rows); err != nil {
				return fmt.Errorf("load ledger: %w", err)
			}
			rows = rows[:0]
		}
	}
	return nil
}

// gatewayTable is where the SQL peer loads the gateway's refunds, as an
// export from Stripe (Sigma, a data pipeline) would hold them.
const gatewayTable = "bench_gateway_refunds"

// gatewayRow is one refund as the export holds it.
type gatewayRow struct {
	id, chargeID, intentID, customerID string
	amount                             int64
	currency, status, failureReason    string
	ledgerRefundID                     string
	created                            time.Time
}

// gatewayRows returns every gateway refund as the export holds it: the
// current state, late failures failed.
func (d Dataset) gatewayRows() []gatewayRow {
	out := make([]gatewayRow, 0, d.N+d.N/plantEvery)
	var s Slot
	for i := range d.N {
		d.Slot(i, &s)
		for _, g := range s.Gateway {
			r := gatewayRow{
				id: g.ID, chargeID: g.Charge, intentID: s.Charge.PaymentIntent, customerID: s.Charge.Customer,
				amount: g.Amount, currency: g.Currency, status: g.Status, failureReason: g.FailureReason,
				ledgerRefundID: g.Metadata[MetadataKey], created: g.Created,
			}
			if !s.FailAt.IsZero() {
				r.status, r.failureReason = fakestripe.StatusFailed, s.FailReason
			}
			out = append(out, r)
		}
	}
	return out
}

// copyGatewayRows creates the export table and COPYs rows into it.
func copyGatewayRows(ctx context.Context, db *sql.DB, rows []gatewayRow) error {
	if _, err := db.ExecContext(ctx, `DROP TABLE IF EXISTS `+gatewayTable+`;
CREATE TABLE `+gatewayTable+` (
	id text, charge_id text, payment_intent_id text, customer_id text, amount bigint,
	currency text, status text, failure_reason text, ledger_refund_id text, created timestamptz)`); err != nil {
		return fmt.Errorf("create %s: %w", gatewayTable, err)
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "COPY "+gatewayTable+` (id, charge_id, payment_intent_id, customer_id,
		amount, currency, status, failure_reason, ledger_refund_id, created) FROM STDIN`)
	if err != nil {
		return fmt.Errorf("copy into %s: %w", gatewayTable, err)
	}
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r.id, r.chargeID, nullable(r.intentID), nullable(r.customerID), r.amount,
			r.currency, r.status, nullable(r.failureReason), nullable(r.ledgerRefundID), r.created); err != nil {
			return fmt.Errorf("copy into %s: %w", gatewayTable, err)
		}
	}
	if _, err := stmt.ExecContext(ctx); err != nil {
		return fmt.Errorf("copy into %s: %w", gatewayTable, err)
	}
	if err := stmt.Close(); err != nil {
		return fmt.Errorf("copy into %s: %w", gatewayTable, err)
	}
	return tx.Commit()
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
