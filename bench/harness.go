package bench

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// Options configure a harness invocation.
type Options struct {
	// Self is the harness's own executable, re-executed for the fake Stripe
	// and for each measured run.
	Self string
	// DatabaseURL is the PostgreSQL the data sets live in, each in a schema
	// of its own.
	DatabaseURL string
	Sizes       []int
	Seed        uint64
	// RPS lists the STRIPE_MAX_RPS values of the rate-limited runs, each on a
	// data set sized to take RateSeconds to list.
	RPS         []float64
	RateSeconds float64
	// Concurrency is the listing's slices (0: the adapter's default).
	Concurrency int
	// NaiveBudget bounds the naive peer per size; past it the rest is
	// extrapolated from the timed sample. NaiveWorkers run its look-ups.
	NaiveBudget  time.Duration
	NaiveWorkers int
	// MemLimit, when set, is a GOMEMLIMIT (say 350MiB) for one more run of
	// every size of at least MemLimitFrom refunds, reported beside the run
	// with the runtime's defaults.
	MemLimit     string
	MemLimitFrom int
	// Fresh reloads data sets even when their schema holds them already.
	Fresh bool
	// ProfileDir, when set, receives a CPU and an allocation profile of
	// each full-speed run, in a directory per size.
	ProfileDir string
	// SyncSizes are the sizes of the incremental sync's benchmark (sync.go).
	SyncSizes []int
	// Log receives progress lines.
	Log io.Writer
}

// Report is everything one invocation measured.
type Report struct {
	Machine Machine
	// MemLimit is Options.MemLimit.
	MemLimit string
	Sizes    []SizeResult
	Rates    []RateResult
	Syncs    []SyncResult
}

// SizeResult is one size: the run with the rate limit lifted and its peers.
type SizeResult struct {
	Dataset  Dataset
	Expected map[reconcile.Kind]int
	Run      childRun
	// Limited is the run under Options.MemLimit, when made.
	Limited *childRun
	Naive   NaiveResult
	SQL     SQLResult
	// LoadLedger is the time the ledger took to load (COPY), when this
	// invocation loaded it; zero when its schema held it already.
	LoadLedger time.Duration
}

// RateResult is one rate-limited run.
type RateResult struct {
	RPS     float64
	Dataset Dataset
	Run     childRun
}

// Run measures every size, then the rate-limited runs.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	rep := &Report{MemLimit: o.MemLimit}
	var err error
	if rep.Machine, err = describeMachine(ctx, o.DatabaseURL); err != nil {
		return nil, err
	}
	for _, n := range o.Sizes {
		r, err := measureSize(ctx, o, n)
		if err != nil {
			return rep, fmt.Errorf("size %d: %w", n, err)
		}
		rep.Sizes = append(rep.Sizes, r)
	}
	for _, rps := range o.RPS {
		n := int(rps * 100 * o.RateSeconds)
		d, dbURL, _, err := prepare(ctx, o, n)
		if err != nil {
			return rep, fmt.Errorf("rate %v: %w", rps, err)
		}
		fmt.Fprintf(o.Log, "rate limit %v req/s: %d refunds\n", rps, n)
		run, err := runAgainstFake(ctx, o, d, dbURL, rps, "")
		if err != nil {
			return rep, fmt.Errorf("rate %v: %w", rps, err)
		}
		rep.Rates = append(rep.Rates, RateResult{RPS: rps, Dataset: d, Run: run})
	}
	for _, n := range o.SyncSizes {
		r, err := measureSync(ctx, o, n)
		if err != nil {
			return rep, fmt.Errorf("sync %d: %w", n, err)
		}
		rep.Syncs = append(rep.Syncs, r)
	}
	return rep, nil
}

func measureSize(ctx context.Context, o Options, n int) (SizeResult, error) {
	res := SizeResult{}
	d, dbURL, load, err := prepare(ctx, o, n)
	if err != nil {
		return res, err
	}
	res.Dataset, res.Expected, res.LoadLedger = d, d.Expected(), load

	fmt.Fprintf(o.Log, "size %d: starting the fake Stripe\n", n)
	fake, err := startFake(ctx, o.Self, d, os.Stderr)
	if err != nil {
		return res, err
	}
	defer fake.stop()
	cfg := RunConfig{DatabaseURL: dbURL, StripeURL: fake.URL, APIKey: apiKey, MaxRPS: Unlimited,
		Concurrency: o.Concurrency, Scope: d.Scope()}

	profile := ""
	if o.ProfileDir != "" {
		profile = filepath.Join(o.ProfileDir, strconv.Itoa(n))
		if err := os.MkdirAll(profile, 0o755); err != nil {
			return res, err
		}
	}
	fmt.Fprintf(o.Log, "size %d: reconciling\n", n)
	if err := resetState(ctx, dbURL); err != nil {
		return res, err
	}
	if res.Run, err = runChild(ctx, o.Self, cfg, profile, "", os.Stderr); err != nil {
		return res, err
	}
	fmt.Fprintf(o.Log, "size %d: run took %v, peak %s\n", n, res.Run.Wall.Round(time.Millisecond), mib(res.Run.MaxRSS))
	if o.MemLimit != "" && n >= o.MemLimitFrom {
		if err := resetState(ctx, dbURL); err != nil {
			return res, err
		}
		fmt.Fprintf(o.Log, "size %d: reconciling with GOMEMLIMIT=%s\n", n, o.MemLimit)
		run, err := runChild(ctx, o.Self, cfg, "", o.MemLimit, os.Stderr)
		if err != nil {
			return res, err
		}
		res.Limited = &run
		fmt.Fprintf(o.Log, "size %d: run took %v, peak %s\n", n, run.Wall.Round(time.Millisecond), mib(run.MaxRSS))
	}

	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return res, err
	}
	defer db.Close()
	fmt.Fprintf(o.Log, "size %d: naive peer (budget %v)\n", n, o.NaiveBudget)
	if res.Naive, err = Naive(ctx, db, cfg, o.NaiveWorkers, o.NaiveBudget); err != nil {
		return res, fmt.Errorf("naive peer: %w", err)
	}
	fmt.Fprintf(o.Log, "size %d: SQL peer\n", n)
	if res.SQL, err = SQLPeer(ctx, db, d); err != nil {
		return res, fmt.Errorf("sql peer: %w", err)
	}
	return res, nil
}

// runAgainstFake starts a fake for d and runs one reconciliation at rps.
func runAgainstFake(ctx context.Context, o Options, d Dataset, dbURL string, rps float64, profile string) (childRun, error) {
	fake, err := startFake(ctx, o.Self, d, os.Stderr)
	if err != nil {
		return childRun{}, err
	}
	defer fake.stop()
	if err := resetState(ctx, dbURL); err != nil {
		return childRun{}, err
	}
	cfg := RunConfig{DatabaseURL: dbURL, StripeURL: fake.URL, APIKey: apiKey, MaxRPS: rps,
		Concurrency: o.Concurrency, Scope: d.Scope()}
	return runChild(ctx, o.Self, cfg, profile, "", os.Stderr)
}

// datasetVersion changes whenever the generator does, so that a schema
// loaded by another version is reloaded.
const datasetVersion = 1

// prepare returns the data set of size n and the URL of the schema holding
// its ledger, loading it unless the schema holds it already.
func prepare(ctx context.Context, o Options, n int) (Dataset, string, time.Duration, error) {
	d := Dataset{N: n, Seed: o.Seed, Now: time.Now().UTC().Truncate(time.Second)}
	schema := fmt.Sprintf("refundrecon_bench_%d_s%d", n, o.Seed)
	admin, err := store.Open(ctx, o.DatabaseURL)
	if err != nil {
		return d, "", 0, err
	}
	defer admin.Close()
	dbURL, err := withSearchPath(o.DatabaseURL, schema)
	if err != nil {
		return d, "", 0, err
	}
	if !o.Fresh {
		var now int64
		err := admin.SQLX().GetContext(ctx, &now, `SELECT now_unix FROM `+schema+`.bench_dataset
			WHERE n = $1 AND seed = $2 AND version = $3`, n, int64(o.Seed), datasetVersion)
		if err == nil {
			d.Now = time.Unix(now, 0).UTC()
			fmt.Fprintf(o.Log, "size %d: reusing schema %s\n", n, schema)
			return d, dbURL, 0, nil
		}
	}
	fmt.Fprintf(o.Log, "size %d: loading the ledger into schema %s\n", n, schema)
	if _, err := admin.SQLX().ExecContext(ctx, "DROP SCHEMA IF EXISTS "+schema+" CASCADE; CREATE SCHEMA "+schema); err != nil {
		return d, "", 0, fmt.Errorf("create schema %s: %w", schema, err)
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return d, "", 0, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return d, "", 0, err
	}
	if err := db.MigrateLedger(ctx); err != nil {
		return d, "", 0, err
	}
	start := time.Now()
	if err := d.LoadLedger(ctx, db); err != nil {
		return d, "", 0, err
	}
	load := time.Since(start)
	if _, err := db.SQLX().ExecContext(ctx, "VACUUM ANALYZE ledger_refunds"); err != nil {
		return d, "", 0, fmt.Errorf("vacuum ledger: %w", err)
	}
	if _, err := db.SQLX().ExecContext(ctx, `CREATE TABLE bench_dataset (n bigint, seed bigint, version int, now_unix bigint);
		INSERT INTO bench_dataset VALUES (`+strconv.Itoa(n)+`, `+strconv.FormatInt(int64(o.Seed), 10)+`, `+
		strconv.Itoa(datasetVersion)+`, `+strconv.FormatInt(d.Now.Unix(), 10)+`)`); err != nil {
		return d, "", 0, fmt.Errorf("record data set: %w", err)
	}
	fmt.Fprintf(o.Log, "size %d: ledger loaded in %v\n", n, load.Round(time.Millisecond))
	return d, dbURL, load, nil
}

// resetState empties the reconciler's own tables, so that every measured
// run starts as a first run: every discrepancy new.
func resetState(ctx context.Context, dbURL string) error {
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.SQLX().ExecContext(ctx, "TRUNCATE runs, discrepancies, discrepancy_events CASCADE"); err != nil {
		return fmt.Errorf("reset state: %w", err)
	}
	return nil
}

// withSearchPath returns the URL whose connections use schema.
func withSearchPath(base, schema string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("database url: %w", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), nil
}

// Machine describes where the numbers were taken.
type Machine struct {
	CPUs       int
	CPUModel   string
	MemoryGiB  float64
	GoVersion  string
	OS         string
	PostgreSQL string
}

func describeMachine(ctx context.Context, dbURL string) (Machine, error) {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for line := range strings.Lines(string(b)) {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				if f := strings.Fields(v); len(f) > 0 {
					kb, _ := strconv.ParseFloat(f[0], 64)
					m.MemoryGiB = kb / (1 << 20)
				}
			}
		}
	}
	db, err := store.Open(ctx, dbURL)
	if err != nil {
		return m, err
	}
	defer db.Close()
	if err := db.SQLX().GetContext(ctx, &m.PostgreSQL, "SHOW server_version"); err != nil {
		return m, fmt.Errorf("postgresql version: %w", err)
	}
	return m, nil
}
