package store

import (
	"errors"
	"fmt"
	"strings"

	"github.com/lib/pq"

	"github.com/refundrecon/refundrecon/reconcile"
)

// ErrNoLedgerTable: the default ledger query found no table ledger_refunds.
// It wraps reconcile.ErrConfig (exit 2): the ledger was never set up, or
// LEDGER_QUERY was forgotten.
var ErrNoLedgerTable = fmt.Errorf("%w: the ledger table ledger_refunds does not exist", reconcile.ErrConfig)

// missingLedgerTable translates the driver's "no such table" for the
// default ledger query into ErrNoLedgerTable; other errors pass unchanged.
func (l *Ledger) missingLedgerTable(err error) error {
	if l.query != DefaultLedgerQuery || !undefinedTable(err) {
		return err
	}
	return ErrNoLedgerTable
}

// undefinedTable reports PostgreSQL's undefined_table (42P01) and SQLite's
// "no such table".
func undefinedTable(err error) bool {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		return pqErr.Code == "42P01"
	}
	return strings.Contains(err.Error(), "no such table")
}
