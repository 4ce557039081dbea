package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Inspect reads the ledger rows of [since, until] as Refunds does for a
// window over every customer, calling fn per row, and returns the database
// type of each result column (sql.ColumnType.DatabaseTypeName, such as
// "NUMERIC" or "INT8"; "" when the driver cannot tell), keyed by the
// column's name in lower case. `ledger check` uses the types to notice an
// amount column that holds decimals.
func (l *Ledger) Inspect(ctx context.Context, since, until time.Time, fn func(reconcile.LedgerRefund) error) (map[string]string, error) {
	if l.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, l.Timeout)
		defer cancel()
	}
	b := newBinder(l.db.dialect)
	query, err := b.bindNamed(l.query, l.params(since, until, ""))
	if err != nil {
		return nil, fmt.Errorf("ledger query: %w", err)
	}
	rows, err := l.db.db.QueryContext(ctx, query, b.args...)
	if err != nil {
		return nil, fmt.Errorf("run ledger query: %w", err)
	}
	defer rows.Close()
	cts, err := rows.ColumnTypes()
	if err != nil {
		return nil, fmt.Errorf("run ledger query: %w", err)
	}
	types := make(map[string]string, len(cts))
	cols := make([]string, len(cts))
	for i, ct := range cts {
		cols[i] = ct.Name()
		name := strings.ToLower(ct.Name())
		if _, dup := types[name]; !dup {
			types[name] = strings.ToUpper(ct.DatabaseTypeName())
		}
	}
	row, targets, err := newLedgerScan(cols)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		if err := rows.Scan(targets...); err != nil {
			return nil, fmt.Errorf("read ledger row: %w", err)
		}
		if err := fn(row.refund()); err != nil {
			return nil, err
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read ledger rows: %w", err)
	}
	return types, nil
}
