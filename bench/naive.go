package bench

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// NaiveResult is the naive peer: what a hand-written script does, one
// GET /v1/refunds/{id} per ledger row.
type NaiveResult struct {
	// Rows is the ledger rows in the window; Done those the peer checked
	// before its time budget ran out.
	Rows, Done int
	Calls      int64
	Elapsed    time.Duration
	// Projected is Elapsed scaled to every row: equal to Elapsed when the
	// peer finished, extrapolated from the timed sample otherwise.
	Projected    time.Duration
	Extrapolated bool
	// Flagged counts the rows the script would report.
	Flagged int64
}

// Naive checks the window's ledger rows one look-up each, with workers
// goroutines sharing the same rate-limited stripe-go client the reconciler
// uses, until every row is checked or budget has passed. A row with a
// gateway refund id is fetched by id (GET /v1/refunds/{id}); one without is
// looked up through its charge (GET /v1/refunds?charge=), the only other
// handle a script has. It never sees gateway refunds the ledger lacks.
func Naive(ctx context.Context, db *store.DB, cfg RunConfig, workers int, budget time.Duration) (NaiveResult, error) {
	var res NaiveResult
	gw, err := gateway.New(gateway.Config{
		APIKey: cfg.APIKey, URL: cfg.StripeURL, MetadataKey: MetadataKey,
		MaxRPS: cfg.MaxRPS, Concurrency: max(workers, 1), Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		return res, err
	}
	if err := db.SQLX().GetContext(ctx, &res.Rows, `SELECT count(*) FROM ledger_refunds
		WHERE (completed_at >= $1 AND completed_at <= $2) OR (created_at >= $1 AND created_at <= $2)`,
		cfg.Scope.Since, cfg.Scope.Until); err != nil {
		return res, fmt.Errorf("count ledger rows: %w", err)
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rows := make(chan reconcile.LedgerRefund, 4*workers)
	var done, flagged atomic.Int64
	var wg sync.WaitGroup
	var errOnce sync.Once
	var werr error
	start := time.Now()
	deadline := start.Add(budget)
	for range max(workers, 1) {
		wg.Go(func() {
			for l := range rows {
				bad, err := check(ctx, gw, l)
				if err != nil {
					if ctx.Err() == nil {
						errOnce.Do(func() { werr = err; cancel() })
					}
					continue
				}
				if bad {
					flagged.Add(1)
				}
				done.Add(1)
			}
		})
	}
	errBudget := errors.New("time budget spent")
	lerr := store.NewLedger(db, "").Refunds(ctx, reconcile.LedgerQuery{Since: cfg.Scope.Since, Until: cfg.Scope.Until},
		func(l reconcile.LedgerRefund) error {
			if time.Now().After(deadline) {
				return errBudget
			}
			select {
			case rows <- l:
				return nil
			case <-ctx.Done():
				return ctx.Err()
			}
		})
	close(rows)
	wg.Wait()
	res.Elapsed = time.Since(start)
	if werr != nil {
		return res, werr
	}
	if lerr != nil && !errors.Is(lerr, errBudget) {
		return res, lerr
	}
	res.Done = int(done.Load())
	res.Flagged = flagged.Load()
	res.Calls = gw.Stats().Requests()
	res.Projected = res.Elapsed
	if res.Done < res.Rows && res.Done > 0 {
		res.Extrapolated = true
		res.Projected = time.Duration(float64(res.Elapsed) * float64(res.Rows) / float64(res.Done))
	}
	return res, nil
}

// check is the script's test of one row: the refund exists, succeeded for
// a complete row, and agrees on amount and currency.
func check(ctx context.Context, gw *gateway.Stripe, l reconcile.LedgerRefund) (bool, error) {
	var found []reconcile.GatewayRefund
	switch {
	case l.GatewayRefundID != "":
		g, err := gw.Refund(ctx, l.GatewayRefundID)
		if errors.Is(err, reconcile.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, err
		}
		found = append(found, g)
	case l.ChargeID != "":
		rs, err := gw.ChargeRefunds(ctx, l.ChargeID)
		if err != nil && !errors.Is(err, reconcile.ErrNotFound) {
			return false, err
		}
		for _, g := range rs {
			if g.Amount == l.Amount {
				found = append(found, g)
			}
		}
	}
	if len(found) == 0 {
		return l.Status == reconcile.LedgerComplete, nil
	}
	g := found[0]
	succeeded := g.Status == reconcile.RefundSucceeded
	return (l.Status == reconcile.LedgerComplete) != succeeded || g.Amount != l.Amount ||
		!strings.EqualFold(g.Currency, l.Currency), nil
}
