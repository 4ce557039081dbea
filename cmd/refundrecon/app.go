package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"

	"github.com/refundrecon/refundrecon/alert"
	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// app holds the dependencies a reconciliation needs, built explicitly from
// the settings.
type app struct {
	log     *slog.Logger
	db      *store.DB
	ledger  *store.DB // the same as db when the ledger shares its database
	gateway *gateway.Stripe
	runner  *reconcile.Runner
	// afterRun hooks run after every run, failed or not (delivering the
	// alert outbox, say). Their errors are logged, never the run's.
	afterRun []func(ctx context.Context, rep reconcile.Report) error
	// alerts delivers the alert outbox (alerts.go); serve runs its Loop.
	alerts *alert.Dispatcher
	// lockWait says how long a run waits for the reconciliation lock
	// (lock.go): a window run of the command line not at all, a customer
	// check a little; serve waits longer.
	lockWait lockWait
}

func openApp(ctx context.Context, s *settings, stderr io.Writer) (*app, error) {
	a := &app{log: newLogger(s, stderr), lockWait: lockWait{customer: cliCustomerLockWait}}
	var err error
	if a.db, err = store.Open(ctx, s.DatabaseURL); err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// The reconciler's own tables are created or upgraded on every start;
	// migrations are idempotent and serialised across processes.
	if err := a.db.Migrate(ctx); err != nil {
		a.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	a.ledger = a.db
	if s.LedgerDatabaseURL != s.DatabaseURL {
		if a.ledger, err = store.Open(ctx, s.LedgerDatabaseURL); err != nil {
			a.Close()
			return nil, fmt.Errorf("open ledger database: %w", err)
		}
	}
	a.gateway, err = gateway.New(gateway.Config{
		APIKey:      s.StripeAPIKey,
		URL:         s.StripeAPIURL,
		MetadataKey: s.StripeMetadataKey,
		MaxRPS:      s.StripeMaxRPS,
		Logger:      a.log,
	})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("stripe client: %w", err)
	}
	a.runner = &reconcile.Runner{
		Ledger:  store.NewLedger(a.ledger, s.LedgerQuery),
		Gateway: a.gateway,
		Store:   a.db,
		Rules: reconcile.Rules{
			Grace:         s.Grace,
			PendingAfter:  s.PendingAfter,
			ValidCurrency: money.Valid,
			FormatMoney:   money.Format,
		},
		Margin: s.Margin,
		// A run that opens too many new cases holds their alerts.
		Hold:   reconcile.HoldPolicy{Share: s.HoldNew, Min: reconcile.DefaultHoldMin},
		Logger: a.log,
		// The adapter is safe for concurrent use and paces all workers
		// with one limiter (STRIPE_MAX_RPS).
		ChargeConcurrency: gateway.DefaultConcurrency,
	}
	a.runner.Gateway = a.syncedGateway(s) // sync.go
	if err := setupAlerts(a, s); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) Close() {
	if a.ledger != nil && a.ledger != a.db {
		_ = a.ledger.Close()
	}
	if a.db != nil {
		_ = a.db.Close()
	}
}

// reconcile runs one scope, logs the run's one summary line, and runs the
// after-run hooks. Every run goes through here: the command line, the
// schedule, the API and webhooks.
func (a *app) reconcile(ctx context.Context, scope reconcile.Scope) (rep reconcile.Report, err error) {
	// One run at a time across processes (lock.go); released as soon as the
	// run is recorded, before the hooks, and on any way out.
	lock, err := a.lockFor(ctx, scope)
	if err != nil {
		return reconcile.Report{}, err
	}
	defer a.unlock(ctx, lock)
	ctx, stop := a.watchLock(ctx, lock)
	defer stop()
	defer a.recoverRun(ctx, &err)
	rep, err = a.runner.RunFenced(ctx, scope, lock.Fence())
	a.unlock(ctx, lock)
	defer func() {
		for _, hook := range a.afterRun {
			if herr := hook(ctx, rep); herr != nil {
				a.log.Error("after run", "run_id", rep.Run.ID, "error", herr)
			}
		}
	}()
	run := rep.Run
	attrs := []any{
		"run_id", run.ID, "status", run.Status,
		"since", run.Scope.Since, "until", run.Scope.Until, "customer_id", run.Scope.CustomerID,
		"ledger_refunds", run.Counts.LedgerRefunds, "gateway_refunds", run.Counts.GatewayRefunds,
		"matched", run.Counts.Matched, "discrepancies", run.Counts.Discrepancies, "resolved", len(rep.Resolved),
		"duration", run.FinishedAt.Sub(run.StartedAt).String(),
		"ledger_time", rep.Timings.Ledger.String(), "gateway_time", rep.Timings.Gateway.String(),
		"match_time", rep.Timings.Match.String(), "store_time", rep.Timings.Store.String(),
	}
	if a.gateway != nil {
		st := a.gateway.Stats()
		attrs = append(attrs, "stripe_requests", st.Requests(), "stripe_retries", st.Retries, "stripe_rate_limited", st.RateLimited)
	}
	if err != nil {
		// The error goes back to the caller, which shows it; the summary
		// line only says the run failed.
		a.log.Warn("run failed", attrs...)
		if errors.Is(err, store.ErrNoLedgerTable) {
			return rep, fmt.Errorf("%w: create it with 'refundrecon migrate --with-ledger' (and fill it, e.g. 'refundrecon ledger import'), or set LEDGER_QUERY or LEDGER_QUERY_FILE to read your own ledger", err)
		}
		if errors.Is(err, reconcile.ErrUnauthorized) {
			return rep, fmt.Errorf("%w (check STRIPE_API_KEY and its permissions)", err)
		}
		return rep, err
	}
	a.log.Info("run finished", attrs...)
	return rep, nil
}
