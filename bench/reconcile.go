package bench

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"strconv"
	"sync"
	"time"

	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// Unlimited is the STRIPE_MAX_RPS of a run "with the rate limit lifted":
// far above what two cores can ask of a loopback server.
const Unlimited = 1e6

// RunConfig is one measured reconciliation.
type RunConfig struct {
	DatabaseURL string
	StripeURL   string
	APIKey      string
	// MaxRPS is STRIPE_MAX_RPS; Concurrency the listing's slices (0: the
	// adapter's default).
	MaxRPS      float64
	Concurrency int
	Scope       reconcile.Scope
	// Sync reads the window through the incremental sync's mirror
	// (reconcile.SyncedGateway), as `refundrecon run` does.
	Sync bool
}

// RunResult is what one reconciliation measured.
type RunResult struct {
	// Wall is Runner.Run from start to finish; Process adds opening the
	// database (with its migration check) and building the adapters, as
	// `refundrecon run` does.
	Wall, Process time.Duration
	Timings       reconcile.Timings
	Counts        reconcile.Counts
	Kinds         map[reconcile.Kind]int
	Stats         gateway.Stats
	// Listing is the window's listing alone (Gateway.Refunds): the part the
	// rate limit paces.
	Listing Listing
	// PeakRSS is the process's peak resident memory (VmHWM), bytes.
	PeakRSS int64
	// HeapPeak is the Go heap's peak as the runtime saw it (Sys), bytes.
	HeapSys uint64
	NumGC   uint32
}

// Listing measures the window's listing.
type Listing struct {
	Refunds  int64
	Pages    int64
	Duration time.Duration
}

// RefundsPerPage is the listing's refunds per list call.
func (l Listing) RefundsPerPage() float64 {
	if l.Pages == 0 {
		return 0
	}
	return float64(l.Refunds) / float64(l.Pages)
}

// PerSecond is the listing's refunds per second.
func (l Listing) PerSecond() float64 {
	if l.Duration <= 0 {
		return 0
	}
	return float64(l.Refunds) / l.Duration.Seconds()
}

// Reconcile runs one reconciliation through the real path, wired as
// cmd/refundrecon's openApp wires it: the store (its migration check
// included), the ledger reader with the default LEDGER_QUERY, gateway.Stripe
// over HTTP with stripe-go, reconcile.Runner with the money rules, and
// FinishRun. The only addition is a pass-through Gateway that times the
// window's listing.
func Reconcile(ctx context.Context, cfg RunConfig) (RunResult, error) {
	var res RunResult
	begin := time.Now()
	db, err := store.Open(ctx, cfg.DatabaseURL)
	if err != nil {
		return res, err
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return res, err
	}
	gw, err := gateway.New(gateway.Config{
		APIKey:      cfg.APIKey,
		URL:         cfg.StripeURL,
		MetadataKey: MetadataKey,
		MaxRPS:      cfg.MaxRPS,
		Concurrency: cfg.Concurrency,
		Logger:      slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return res, err
	}
	tg := &timedGateway{Stripe: gw}
	var g reconcile.Gateway = tg
	if cfg.Sync {
		g = &reconcile.SyncedGateway{Gateway: tg, Changes: gw, Mirror: db, Name: "bench"}
	}
	runner := &reconcile.Runner{
		Ledger:  store.NewLedger(db, ""),
		Gateway: g,
		Store:   db,
		Rules: reconcile.Rules{
			Grace:         reconcile.DefaultGrace,
			PendingAfter:  reconcile.DefaultPendingAfter,
			ValidCurrency: money.Valid,
			FormatMoney:   money.Format,
		},
	}
	start := time.Now()
	rep, err := runner.Run(ctx, cfg.Scope)
	res.Wall = time.Since(start)
	res.Process = time.Since(begin)
	if err != nil {
		return res, err
	}
	res.Timings = rep.Timings
	res.Counts = rep.Run.Counts
	res.Kinds = map[reconcile.Kind]int{}
	for _, d := range rep.Discrepancies {
		res.Kinds[d.Kind]++
	}
	res.Stats = gw.Stats()
	res.Listing = tg.listing
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	res.HeapSys, res.NumGC = ms.Sys, ms.NumGC
	res.PeakRSS = peakRSS()
	return res, nil
}

// timedGateway passes every call to the adapter and times the window's
// listing.
type timedGateway struct {
	*gateway.Stripe
	mu      sync.Mutex
	listing Listing
}

func (t *timedGateway) Refunds(ctx context.Context, since, until time.Time, fn func(reconcile.GatewayRefund) error) error {
	before := t.Stats().ListRefundsRequests
	start := time.Now()
	var n int64
	err := t.Stripe.Refunds(ctx, since, until, func(g reconcile.GatewayRefund) error {
		n++
		return fn(g)
	})
	t.mu.Lock()
	t.listing.Duration += time.Since(start)
	t.listing.Refunds += n
	t.listing.Pages += t.Stats().ListRefundsRequests - before
	t.mu.Unlock()
	return err
}

// peakRSS reads the process's peak resident set (VmHWM) from
// /proc/self/status; 0 where there is none.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		line := sc.Bytes()
		if v, ok := bytes.CutPrefix(line, []byte("VmHWM:")); ok {
			f := bytes.Fields(v)
			if len(f) >= 1 {
				kb, err := strconv.ParseInt(string(f[0]), 10, 64)
				if err == nil {
					return kb << 10
				}
			}
		}
	}
	return 0
}

// mib formats bytes in MiB.
func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }
