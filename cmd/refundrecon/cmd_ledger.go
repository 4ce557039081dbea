package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/refundrecon/refundrecon/ledgercsv"
	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// errBadLines: an import kept its good lines but rejected others.
var errBadLines = errors.New("some lines were not imported")

// cmdLedgerImport is `ledger import FILE.csv`.
func cmdLedgerImport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	_, e := newFlags("ledger import", getenv, &s, useDB|useLedgerDB)
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usagef("ledger import takes one CSV file")
	}
	if err := s.check(false); err != nil {
		return err
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("%w: %w", reconcile.ErrConfig, err)
	}
	defer f.Close()

	var rows []reconcile.LedgerRefund
	bad, err := ledgercsv.Read(f, money.Valid, func(_ int, l reconcile.LedgerRefund) error {
		rows = append(rows, l)
		return nil
	})
	if err != nil {
		return fmt.Errorf("read %s: %w", pos[0], err)
	}
	db, err := store.Open(ctx, s.LedgerDatabaseURL)
	if err != nil {
		return fmt.Errorf("open ledger database: %w", err)
	}
	defer db.Close()
	if err := db.MigrateLedger(ctx); err != nil {
		return fmt.Errorf("create ledger table: %w", err)
	}
	res, err := db.ImportLedgerRefunds(ctx, rows)
	if err != nil {
		return err
	}
	for _, b := range bad {
		fmt.Fprintf(stderr, "%s:%d: %s\n", pos[0], b.Line, b.Reason)
	}
	fmt.Fprintf(stdout, "%s: %d lines imported (%d new, %d updated, %d unchanged), %d rejected, into %s\n",
		pos[0], len(rows), res.Inserted, res.Updated, res.Unchanged, len(bad), store.Redact(s.LedgerDatabaseURL))
	if len(bad) > 0 {
		return errReported{fmt.Errorf("%w: %d of %d", errBadLines, len(bad), len(bad)+len(rows))}
	}
	return nil
}
