// Command refundrecon-bench measures refundrecon end to end and sets its
// peers beside it; see docs/performance.md. It is a developer tool, not part
// of the shipped binary.
//
//	refundrecon-bench [-sizes 10000,100000] [-rps 25,100] [-markdown]
//
// It re-executes itself as "fake-stripe" (the fake Stripe serving a
// generated data set on 127.0.0.1) and as "reconcile" (one measured run), so
// that each runs in a process of its own.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/refundrecon/refundrecon/bench"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr)
	stop()
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	default:
		fmt.Fprintln(os.Stderr, "refundrecon-bench:", err)
		os.Exit(1)
	}
}

// defaultDatabaseURL is the machine's PostgreSQL the tests use too.
const defaultDatabaseURL = "postgres://root@127.0.0.1:5432/test?sslmode=disable"

func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] {
		case bench.CmdFakeStripe:
			return bench.FakeMain(ctx, args[1:], stdin, stdout, stderr)
		case bench.CmdReconcile:
			return bench.ReconcileMain(ctx, args[1:], stdout, stderr)
		}
	}
	fl := flag.NewFlagSet("refundrecon-bench", flag.ContinueOnError)
	fl.SetOutput(stderr)
	dbURL := getenv("TEST_DATABASE_URL")
	if dbURL == "" {
		dbURL = defaultDatabaseURL
	}
	o := bench.Options{Log: stderr}
	fl.StringVar(&o.DatabaseURL, "database-url", dbURL, "PostgreSQL for the data sets, each in a schema of its own (default: TEST_DATABASE_URL, else the local server)")
	sizes := fl.String("sizes", "10000,100000", "comma-separated data set sizes (ledger refunds, about as many gateway refunds)")
	rps := fl.String("rps", "25,100", "comma-separated STRIPE_MAX_RPS values of the rate-limited runs; empty for none")
	fl.Float64Var(&o.RateSeconds, "rate-seconds", 15, "size each rate-limited data set to take this long to list")
	fl.Uint64Var(&o.Seed, "seed", 1, "data set seed")
	fl.IntVar(&o.Concurrency, "concurrency", 0, "listing slices (0: the adapter's default)")
	fl.DurationVar(&o.NaiveBudget, "naive-budget", 20*time.Second, "time the naive peer may take per size before the rest is extrapolated")
	fl.IntVar(&o.NaiveWorkers, "naive-workers", 4, "concurrent look-ups of the naive peer")
	fl.StringVar(&o.MemLimit, "memlimit", "350MiB", "GOMEMLIMIT of one more run of each size of at least -memlimit-from refunds; empty for none")
	fl.IntVar(&o.MemLimitFrom, "memlimit-from", 500_000, "smallest size also run under -memlimit")
	fl.BoolVar(&o.Fresh, "fresh", false, "reload data sets even when their schema holds them")
	fl.StringVar(&o.ProfileDir, "profile-dir", "", "write CPU and allocation profiles of each full-speed run under this directory")
	markdown := fl.Bool("markdown", false, "print Markdown tables")
	syncSizes := fl.String("sync-sizes", "100000", "comma-separated sizes of the incremental sync's benchmark (full run, then nightly after 1% changed); empty for none")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if fl.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fl.Arg(0))
	}
	var err error
	if o.Sizes, err = ints(*sizes); err != nil {
		return fmt.Errorf("-sizes: %w", err)
	}
	if o.RPS, err = floats(*rps); err != nil {
		return fmt.Errorf("-rps: %w", err)
	}
	if o.SyncSizes, err = ints(*syncSizes); err != nil {
		return fmt.Errorf("-sync-sizes: %w", err)
	}
	if o.Self, err = os.Executable(); err != nil {
		return err
	}
	rep, err := bench.Run(ctx, o)
	if rep != nil && (len(rep.Sizes) > 0 || len(rep.Rates) > 0 || len(rep.Syncs) > 0) {
		if werr := rep.Write(stdout, *markdown); werr != nil {
			return errors.Join(err, werr)
		}
	}
	return err
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(strings.ReplaceAll(f, "_", ""))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("%q is not a positive whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}

func floats(s string) ([]float64, error) {
	var out []float64
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		v, err := strconv.ParseFloat(f, 64)
		if err != nil || !(v > 0) {
			return nil, fmt.Errorf("%q is not a positive number", f)
		}
		out = append(out, v)
	}
	return out, nil
}
