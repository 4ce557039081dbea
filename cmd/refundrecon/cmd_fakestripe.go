package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/refundrecon/refundrecon/demo"
	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/store"
)

// cmdFakeStripe serves the demo's simulated Stripe account over HTTP, after
// writing the matching ledger rows, so that a real serve or run (compose's
// demo profile) has data to reconcile. The data is dated relative to now.
// It is for demonstrations and tests; it holds nothing of a real account.
func cmdFakeStripe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlagSet("fake-stripe", getenv, stderr, &s, false)
	listen := fs.String("listen", "127.0.0.1:12111", "address to serve the simulated Stripe API on")
	customers := fs.Int("customers", 300, "customers in the simulated account")
	refunds := fs.Int("refunds", 2000, "ledger refunds to generate")
	seed := fs.Uint64("seed", 1, "random seed")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("fake-stripe takes no arguments, got %q", pos[0])
	}
	if err := s.check(false); err != nil {
		return err
	}
	log := newLogger(&s, stderr)
	data := demo.Generate(demo.Options{Customers: *customers, Refunds: *refunds, Seed: *seed, Now: time.Now().UTC().Truncate(time.Second)})

	db, err := store.Open(ctx, s.LedgerDatabaseURL)
	if err != nil {
		return fmt.Errorf("open ledger database: %w", err)
	}
	defer db.Close()
	if err := db.MigrateLedger(ctx); err != nil {
		return fmt.Errorf("create ledger table: %w", err)
	}
	res, err := db.ImportLedgerRefunds(ctx, data.Ledger)
	if err != nil {
		return fmt.Errorf("write demo ledger: %w", err)
	}

	fake := fakestripe.New(demoKey)
	if err := data.Load(fake); err != nil {
		return fmt.Errorf("load simulated stripe: %w", err)
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("%w: listen on %s: %w", errListen, *listen, err)
	}
	srv := &http.Server{Handler: fake, ReadHeaderTimeout: 5 * time.Second}
	log.Info("simulated stripe serving", "addr", ln.Addr().String(), "refunds", len(data.Refunds), "charges", len(data.Charges),
		"ledger_rows_new", res.Inserted, "ledger_rows_updated", res.Updated, "late_failure_customer", data.LateFailure)
	fmt.Fprintf(stdout, "simulated Stripe on http://%s (key %s)\n", ln.Addr(), demoKey)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve simulated stripe: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("stop simulated stripe: %w", err)
	}
	return nil
}

// errListen: the address could not be listened on.
var errListen = errors.New("cannot listen")
