package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/report"
	"github.com/refundrecon/refundrecon/store"
)

// cmdLedgerCheck is `refundrecon ledger check`: it reads LEDGER_QUERY over
// run's window and says whether the rows look like the contract's ledger,
// before a first run opens a case per bad row. It takes run's flags and
// environment (Stripe's are accepted, not needed) and reads only the ledger
// database. More than half the rows invalid is a configuration error (exit
// 2); the report is written first either way. The JSON shape is
// report.LedgerCheck's.
func cmdLedgerCheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlagSet("ledger check", getenv, stderr, &s, true)
	since := fs.String("since", "2160h", "start of the window: a duration before now (2160h, 90d) or a date")
	until := fs.String("until", "", "end of the window: a duration before now or a date (default now)")
	format := fs.String("format", "text", "text or json")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("ledger check takes no arguments, got %q", pos[0])
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	if err := s.check(false); err != nil {
		return err
	}
	now := time.Now().UTC()
	to := now
	from, err := parseWhen("since", *since, now)
	if err != nil {
		return err
	}
	if *until != "" {
		if to, err = parseWhen("until", *until, now); err != nil {
			return err
		}
	}
	if !from.Before(to) {
		return usagef("--since %s is not before --until %s", from.Format(time.RFC3339), to.Format(time.RFC3339))
	}

	db, err := store.Open(ctx, s.LedgerDatabaseURL)
	if err != nil {
		return fmt.Errorf("open ledger database: %w", err)
	}
	defer db.Close()
	var c report.LedgerChecker
	types, err := store.NewLedger(db, s.LedgerQuery).Inspect(ctx, from, to, func(r reconcile.LedgerRefund) error {
		c.Add(r)
		return nil
	})
	if err != nil {
		return fmt.Errorf("ledger check: %w", err)
	}
	lc := c.Result(from, to, types["amount"])

	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(lc); err != nil {
			return fmt.Errorf("write ledger check: %w", err)
		}
	} else if err := report.WriteLedgerCheckText(stdout, lc); err != nil {
		return fmt.Errorf("write ledger check: %w", err)
	}
	if lc.MostlyInvalid {
		return fmt.Errorf("%w: ledger check: %s", reconcile.ErrConfig, lc.Verdict)
	}
	return nil
}
