package store

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// ImportResult counts what an import did to the ledger table.
type ImportResult struct {
	Inserted, Updated, Unchanged int
}

// ImportLedgerRefunds writes rows into ledger_refunds by id, in one
// transaction: a new id is inserted, a stored row that differs is updated,
// an identical one is left alone, so importing the same file twice changes
// nothing. Every row must have an id.
func (db *DB) ImportLedgerRefunds(ctx context.Context, rows []reconcile.LedgerRefund) (ImportResult, error) {
	var res ImportResult
	tx, err := db.db.BeginTxx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("import ledger refunds: %w", err)
	}
	defer tx.Rollback()
	cols := strings.Join(ledgerColumns, ", ")
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
	b := newBinder(db.dialect)
	placeholders := make([]string, len(ledgerColumns))
	for i := range placeholders {
		placeholders[i] = b.add(nil)
	}
	insert, err := tx.PreparexContext(ctx, "INSERT INTO ledger_refunds ("+cols+") VALUES ("+strings.Join(placeholders, ", ")+")")
	if err != nil {
		return res, fmt.Errorf("import ledger refunds: %w", err)
	}
	defer insert.Close()
	b = newBinder(db.dialect)
	var set []string
	for _, c := range ledgerColumns[1:] {
		set = append(set, c+" = "+b.add(nil))
	}
	update, err := tx.PreparexContext(ctx, "UPDATE ledger_refunds SET "+strings.Join(set, ", ")+" WHERE id = "+b.add(nil))
	if err != nil {
		return res, fmt.Errorf("import ledger refunds: %w", err)
	}
	defer update.Close()

	for chunk := range slices.Chunk(rows, 500) {
		ids := make([]string, len(chunk))
		for i, r := range chunk {
			if r.ID == "" {
				return res, fmt.Errorf("import ledger refunds: a row has no id")
			}
			ids[i] = r.ID
		}
		stored := map[string]reconcile.LedgerRefund{}
		kb := newBinder(db.dialect)
		rs, err := tx.QueryxContext(ctx, "SELECT "+cols+" FROM ledger_refunds WHERE id IN ("+kb.list(ids)+")", kb.args...)
		if err != nil {
			return res, fmt.Errorf("import ledger refunds: read stored rows: %w", err)
		}
		names, err := rs.Columns()
		if err != nil {
			rs.Close()
			return res, fmt.Errorf("import ledger refunds: %w", err)
		}
		scan, targets, err := newLedgerScan(names)
		if err != nil {
			rs.Close()
			return res, err
		}
		for rs.Next() {
			if err := rs.Scan(targets...); err != nil {
				rs.Close()
				return res, fmt.Errorf("import ledger refunds: %w", err)
			}
			l := scan.refund()
			stored[l.ID] = l
		}
		if err := rs.Close(); err != nil {
			return res, fmt.Errorf("import ledger refunds: %w", err)
		}
		for _, r := range chunk {
			old, ok := stored[r.ID]
			switch {
			case !ok:
				if _, err := insert.ExecContext(ctx, values(r)...); err != nil {
					return res, fmt.Errorf("import ledger refund %s: %w", r.ID, err)
				}
				res.Inserted++
			case sameLedgerRow(old, r):
				res.Unchanged++
			default:
				v := values(r)
				if _, err := update.ExecContext(ctx, append(v[1:], r.ID)...); err != nil {
					return res, fmt.Errorf("import ledger refund %s: %w", r.ID, err)
				}
				res.Updated++
			}
			stored[r.ID] = r
		}
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("import ledger refunds: %w", err)
	}
	return res, nil
}

// sameLedgerRow compares rows as the store keeps them.
func sameLedgerRow(a, b reconcile.LedgerRefund) bool {
	return a.ID == b.ID && a.CustomerID == b.CustomerID && a.ChargeID == b.ChargeID &&
		a.PaymentIntentID == b.PaymentIntentID && a.GatewayRefundID == b.GatewayRefundID &&
		a.Amount == b.Amount && a.AmountNull == b.AmountNull && a.Currency == b.Currency &&
		a.Status == b.Status && storedTime(a.CompletedAt).Equal(storedTime(b.CompletedAt)) &&
		storedTime(a.CreatedAt).Equal(storedTime(b.CreatedAt))
}
