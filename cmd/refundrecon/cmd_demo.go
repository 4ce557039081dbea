package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/refundrecon/refundrecon/demo"
	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/report"
	"github.com/refundrecon/refundrecon/store"
)

// demoNow is the demo's simulated clock: a fixed instant, so that the same
// seed prints the same report on any day.
var demoNow = time.Date(2026, 6, 30, 12, 0, 0, 0, time.UTC)

// The demo's gateway key, known only to the fake Stripe it starts.
const demoKey = "sk_test_refundrecon_demo"

func cmdDemo(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	dbPath := fs.String("db", "refundrecon-demo.db", "SQLite file to create afresh (deleted first if it exists)")
	customers := fs.Int("customers", 300, "customers in the simulated account")
	refunds := fs.Int("refunds", 2000, "ledger refunds to generate")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same report")
	out := fs.String("out", "refundrecon-demo-report.csv", "where to write the CSV mismatch report")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("demo takes no arguments, got %q", fs.Arg(0))
	}
	if *customers < 1 || *refunds < 50 {
		return usagef("demo needs at least 1 customer and 50 refunds")
	}
	level := slog.LevelWarn
	if v := getenv("LOG_LEVEL"); v != "" {
		if l, err := parseLevel(v); err == nil {
			level = l
		}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	// A fresh embedded database holding the ledger and the reconciler's state.
	for _, suffix := range []string{"", "-wal", "-shm"} {
		if err := os.Remove(*dbPath + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("remove old demo database: %w", err)
		}
	}
	db, err := store.Open(ctx, "sqlite:"+*dbPath)
	if err != nil {
		return fmt.Errorf("open demo database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate demo database: %w", err)
	}
	if err := db.MigrateLedger(ctx); err != nil {
		return fmt.Errorf("create demo ledger: %w", err)
	}

	data := demo.Generate(demo.Options{Customers: *customers, Refunds: *refunds, Seed: *seed, Now: demoNow})
	if err := db.InsertLedgerRefunds(ctx, data.Ledger); err != nil {
		return fmt.Errorf("seed demo ledger: %w", err)
	}

	// The simulated Stripe account, on loopback only.
	fake := fakestripe.New(demoKey)
	if err := data.Load(fake); err != nil {
		return fmt.Errorf("seed simulated stripe: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("start simulated stripe: %w", err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	stripe, err := gateway.New(gateway.Config{
		APIKey: demoKey, URL: "http://" + ln.Addr().String(), MetadataKey: demo.MetadataKey,
		MaxRPS: 1000, // loopback: the rate limit is lifted
		Logger: log,
	})
	if err != nil {
		return fmt.Errorf("stripe client: %w", err)
	}
	runs := 0
	runner := &reconcile.Runner{
		Ledger: store.NewLedger(db, ""), Gateway: stripe, Store: db,
		Rules: reconcile.Rules{Grace: reconcile.DefaultGrace, PendingAfter: reconcile.DefaultPendingAfter,
			ValidCurrency: money.Valid, FormatMoney: money.Format},
		Now:    func() time.Time { return demoNow },
		Logger: log,
		NewID: func(time.Time) string {
			runs++
			return fmt.Sprintf("run_demo_seed%d_%d", *seed, runs)
		},
	}

	fmt.Fprintf(stdout, "refundrecon demo: %d ledger refunds of %d customers in USD, EUR and JPY against a simulated Stripe account\n",
		len(data.Ledger), *customers)
	fmt.Fprintf(stdout, "(embedded database %s, simulated clock %s, seed %d; Stripe reached through stripe-go over loopback)\n\n",
		*dbPath, demoNow.Format(time.RFC3339), *seed)
	fmt.Fprintf(stderr, "demo: simulated Stripe listening on %s\n", ln.Addr())
	started := time.Now()
	rep, err := runner.Run(ctx, reconcile.Scope{Since: demoNow.Add(-90 * 24 * time.Hour), Until: demoNow})
	if err != nil {
		return fmt.Errorf("demo run: %w", err)
	}
	elapsed := time.Since(started)
	if err := report.WriteRunText(stdout, rep); err != nil {
		return err
	}

	fmt.Fprintf(stdout, "\nA customer calls: \"I never got my refund.\" and gives their e-mail address. Support runs: refundrecon lookup %s\n\n", data.LateFailureEmail)
	found, err := reconcile.FindCustomers(ctx, data.LateFailureEmail, stripe, runner.Ledger)
	if err != nil {
		return fmt.Errorf("demo lookup: %w", err)
	}
	look := report.Lookup{Found: found, Now: demoNow}
	for _, c := range found.Customers {
		rep, err := runner.Run(ctx, reconcile.Scope{CustomerID: c, Until: demoNow})
		if err != nil {
			return fmt.Errorf("demo customer check: %w", err)
		}
		look.Reports = append(look.Reports, rep)
	}
	if err := report.WriteLookupText(stdout, look); err != nil {
		return err
	}

	f, err := os.Create(*out)
	if err != nil {
		return fmt.Errorf("write demo report: %w", err)
	}
	if err := report.WriteCSV(f, rep.Discrepancies); err != nil {
		f.Close()
		return fmt.Errorf("write demo report: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write demo report: %w", err)
	}
	fmt.Fprintf(stdout, "\nWrote the mismatch report for finance to %s (%d cases).\n", *out, len(rep.Discrepancies))
	// Timings vary from run to run: they go to stderr, so that stdout is
	// the same for the same seed.
	fmt.Fprintf(stderr, "demo: reconciled %d ledger refunds in %s with %d Stripe requests (%d refunds listed)\n",
		len(data.Ledger), elapsed.Round(time.Millisecond), stripe.Stats().Requests(), stripe.Stats().RefundsDecoded)
	return nil
}
