package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/report"
	"github.com/refundrecon/refundrecon/store"
)

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlags("migrate", getenv, &s, useDB|useLedgerDB)
	withLedger := fs.Bool("with-ledger", false, "also create the ledger table ledger_refunds (in the ledger database)")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("migrate takes no arguments, got %q", pos[0])
	}
	if err := s.check(false); err != nil {
		return err
	}
	db, err := store.Open(ctx, s.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate %s: %w", store.Redact(s.DatabaseURL), err)
	}
	fmt.Fprintf(stdout, "migrated %s\n", store.Redact(s.DatabaseURL))
	if *withLedger {
		ledger := db
		if s.LedgerDatabaseURL != s.DatabaseURL {
			if ledger, err = store.Open(ctx, s.LedgerDatabaseURL); err != nil {
				return fmt.Errorf("open ledger database: %w", err)
			}
			defer ledger.Close()
		}
		if err := ledger.MigrateLedger(ctx); err != nil {
			return fmt.Errorf("create ledger table in %s: %w", store.Redact(s.LedgerDatabaseURL), err)
		}
		fmt.Fprintf(stdout, "ledger table ledger_refunds ready in %s\n", store.Redact(s.LedgerDatabaseURL))
	}
	return nil
}

func cmdRun(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlags("run", getenv, &s, useDB|useLedgerDB|useLog|useRun|useSync)
	since := fs.String("since", "2160h", "start of the window: a duration before now (2160h, 90d) or a date")
	until := fs.String("until", "", "end of the window: a duration before now or a date (default now)")
	customer := fs.String("customer", "", "reconcile one customer's refunds only")
	format := fs.String("format", "text", "text or json")
	exitCode := fs.Bool("exit-code", false, "exit 3 when open discrepancies remain in scope")
	fs.BoolVar(&s.FullSync, "full", false, "list the whole window from Stripe, whatever was fetched before")
	fs.BoolVar(&s.DryRun, "dry-run", false, "read and judge as a run does and print the report; record nothing, send nothing")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("run takes no arguments, got %q", pos[0])
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	if err := s.check(true); err != nil {
		return err
	}
	now := time.Now().UTC()
	scope := reconcile.Scope{CustomerID: *customer, Until: now}
	if scope.Since, err = parseWhen("since", *since, now); err != nil {
		return err
	}
	if *until != "" {
		if scope.Until, err = parseWhen("until", *until, now); err != nil {
			return err
		}
	}
	if !scope.Since.Before(scope.Until) {
		return usagef("--since %s is not before --until %s", scope.Since.Format(time.RFC3339), scope.Until.Format(time.RFC3339))
	}
	return reconcileAndReport(ctx, &s, scope, *format, *exitCode, stdout, stderr, report.WriteRunText)
}

func cmdCustomer(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlagSet("customer", getenv, stderr, &s, true)
	format := fs.String("format", "text", "text or json")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || pos[0] == "" {
		return usagef("customer takes one customer id (cus_…)")
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	if err := s.check(true); err != nil {
		return err
	}
	scope := reconcile.Scope{CustomerID: pos[0], Until: time.Now().UTC()}
	return reconcileAndReport(ctx, &s, scope, *format, false, stdout, stderr, report.WriteVerdict)
}

// checkFormat checks --format text|json; parsing has put it in lower case.
func checkFormat(f string) error {
	if f != "text" && f != "json" {
		return usagef("--format %q is not text or json", f)
	}
	return nil
}

// reconcileAndReport runs one scope and writes its report. A failed run
// still writes its JSON report (status failed) for scripts.
func reconcileAndReport(ctx context.Context, s *settings, scope reconcile.Scope, format string, exitCode bool,
	stdout, stderr io.Writer, text func(io.Writer, reconcile.Report) error) error {
	a, err := openApp(ctx, s, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	// On a terminal, a progress line while the run works (progress.go).
	progress := newProgressLine(stderr, a.gateway.Stats, s.StripeMaxRPS)
	if progress != nil {
		a.runner.Progress = progress.Update
	}
	progress.Start()
	var rep reconcile.Report
	var runErr error
	if s.DryRun {
		// No lock, no hooks (no alert delivery): nothing is written or sent.
		// Stripe is read live, never through the mirror, whose sync would
		// write the state database.
		a.runner.Gateway = a.gateway
		rep, runErr = a.runner.DryRun(ctx, scope)
	} else {
		rep, runErr = a.reconcile(ctx, scope)
	}
	progress.Finish()
	if runErr == nil {
		heldNotice(stderr, rep)
		if s.DryRun {
			fmt.Fprintln(stderr, "refundrecon: dry run: nothing was recorded and no alert was sent")
		}
	}
	if runErr != nil && rep.Run.ID == "" {
		return runErr // the run could not even start
	}
	if errors.Is(runErr, reconcile.ErrNothingFound) {
		// Never "no problem found" for an id that matched nothing.
		f := reconcile.Found{Query: scope.CustomerID, Searched: "Stripe's charges of " + scope.CustomerID + " and the ledger's refunds of " + scope.CustomerID}
		if format == "json" {
			// The run report, status failed, its error saying what matched
			// nothing; the sentence goes to stderr.
			enc := json.NewEncoder(stdout)
			enc.SetIndent("", "  ")
			if err := enc.Encode(rep); err != nil {
				return fmt.Errorf("write report: %w", err)
			}
			fmt.Fprintln(stderr, report.Clean(f.NothingFound()))
		} else {
			fmt.Fprintln(stdout, report.Clean(f.NothingFound()))
		}
		return errNothingFound
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	} else if runErr == nil {
		if err := text(stdout, rep); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
	}
	if runErr != nil {
		if format == "json" {
			fmt.Fprintf(stderr, "refundrecon: run %s failed: %s\n", rep.Run.ID, runErr)
			return errReported{runErr}
		}
		return fmt.Errorf("run %s failed: %w", rep.Run.ID, runErr)
	}
	if exitCode {
		for _, d := range rep.Discrepancies {
			if d.Status == reconcile.StatusOpen {
				return errOpenDiscrepancies
			}
		}
	}
	return nil
}
