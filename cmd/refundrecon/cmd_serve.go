package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/robfig/cron/v3"

	"github.com/refundrecon/refundrecon/gateway"
	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/schedule"
	"github.com/refundrecon/refundrecon/server"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/web"
)

// serveOptions are serve's own settings, beyond the shared ones.
type serveOptions struct {
	ListenAddr      string
	APITokens       string
	Schedule        string
	WebhookSecret   string
	ShutdownTimeout time.Duration
	RecheckDelay    time.Duration
	// StripeTestMode: the key is a test key, so the page links to the
	// Stripe Dashboard's test-mode pages.
	StripeTestMode bool
}

// Serve's fixed choices.
const (
	// nightlyWindow is what the scheduled run covers: the default window of
	// `run`, 90 days back from its slot.
	nightlyWindow = 2160 * time.Hour
	// serveWindowLockWait: a scheduled run waits this long for another
	// reconciliation (a customer check, another replica's run of the same
	// slot) before it skips; the slot check keeps a replica that waited
	// from running the slot again.
	serveWindowLockWait = 5 * time.Minute
	// serveCustomerLockWait: an API or webhook customer check waits this
	// long, then answers 503 (the API) or is retried later (webhooks).
	serveCustomerLockWait = 10 * time.Second
)

// validTokenName: letters, digits and ._@+- only, up to 64; the name goes
// into the audit trail.
func validTokenName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._@+-", r)) {
			return false
		}
	}
	return true
}

// parseTokens reads API_TOKENS: comma-separated name:token or
// name:token:role entries (no role: finance). Errors name the entry by
// position or name, never the token (nor a role, which may be the tail of a
// token holding a colon).
func parseTokens(v string) ([]reconcile.Token, error) {
	var out []reconcile.Token
	names, values := map[string]bool{}, map[string]bool{}
	for i, entry := range strings.Split(v, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		parts := strings.SplitN(entry, ":", 3)
		for k := range parts {
			parts[k] = strings.TrimSpace(parts[k])
		}
		if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
			return nil, fmt.Errorf("API_TOKENS: entry %d is not name:token or name:token:role", i+1)
		}
		name, token, roleName := parts[0], parts[1], ""
		if len(parts) == 3 {
			roleName = parts[2]
		}
		role, roleErr := reconcile.ParseRole(roleName)
		switch {
		case !validTokenName(name):
			return nil, fmt.Errorf("API_TOKENS: entry %d: the name may hold letters, digits and ._@+- only, up to 64", i+1)
		case roleErr != nil:
			return nil, fmt.Errorf("API_TOKENS: entry %d (%s): the role is none of viewer, support, finance, admin", i+1, name)
		case len(token) < 16:
			return nil, fmt.Errorf("API_TOKENS: the token of %s is shorter than 16 characters", name)
		case names[name]:
			return nil, fmt.Errorf("API_TOKENS: the name %s appears twice", name)
		case values[token]:
			return nil, fmt.Errorf("API_TOKENS: the token of %s is another name's too", name)
		}
		names[name], values[token] = true, true
		out = append(out, reconcile.Token{Name: name, Value: token, Role: role})
	}
	return out, nil
}

// inFlight counts the customer checks running, so that shutdown can wait
// for them. Once closed it starts no more checks: a WaitGroup would panic
// when a check begins while shutdown waits (Add racing Wait).
type inFlight struct {
	mu     sync.Mutex
	n      int
	closed bool
	idle   chan struct{} // closed when closed and n is 0
}

func newInFlight() *inFlight { return &inFlight{idle: make(chan struct{})} }

// begin counts a check in; false once shutdown started.
func (f *inFlight) begin() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return false
	}
	f.n++
	return true
}

func (f *inFlight) end() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.n--
	if f.closed && f.n == 0 {
		close(f.idle)
	}
}

// close refuses new checks and returns a channel closed when the last
// running one ends.
func (f *inFlight) close() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.closed {
		f.closed = true
		if f.n == 0 {
			close(f.idle)
		}
	}
	return f.idle
}

// errShuttingDown: serve is stopping and starts no more checks.
var errShuttingDown = fmt.Errorf("serve is shutting down: %w", context.Canceled)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	var o serveOptions
	fs, e := newFlagSet("serve", getenv, stderr, &s, true)
	e.str(&o.ListenAddr, "listen-addr", "LISTEN_ADDR", ":8080", "HTTP address of health, metrics, the API and webhooks")
	e.secret(&o.APITokens, "api-tokens", "API_TOKENS", "comma-separated name:token or name:token:role entries allowed on /api/ and the page; roles viewer, support, finance (the default), admin; the name goes into the audit trail")
	e.str(&o.Schedule, "schedule", "SCHEDULE", schedule.DefaultSpec, "cron spec of the nightly run (five fields, CRON_TZ= prefix allowed), or off when a CronJob or timer runs 'run'")
	e.secret(&o.WebhookSecret, "stripe-webhook-secret", "STRIPE_WEBHOOK_SECRET", "whsec_… signing secret of the Stripe webhook endpoint")
	e.duration(&o.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", 25*time.Second,
		"on SIGTERM, how long a run in progress may take to finish before it is cancelled and recorded as failed")
	e.duration(&o.RecheckDelay, "recheck-delay", "RECHECK_DELAY", 2*time.Second,
		"after a Stripe refund event, wait this long before re-checking the customer, so that a burst makes one run")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("serve takes no arguments, got %q", pos[0])
	}
	if s.LogFormat == "auto" {
		s.LogFormat = "json" // a service logs for machines
	}
	drainSet := getenv("ALERT_DRAIN") != ""
	fs.Visit(func(f *flag.Flag) { drainSet = drainSet || f.Name == "alert-drain" })
	if !drainSet {
		// After a run, deliver its alerts in one pass and return: the
		// delivery loop retries, so an API check does not wait on Slack.
		s.Alert.Drain = 0
	}
	if err := s.check(true); err != nil {
		return err
	}
	var problems []string
	var sched cron.Schedule
	if !scheduleOff(o.Schedule) {
		if sched, err = schedule.Parse(o.Schedule); err != nil {
			problems = append(problems, "SCHEDULE: "+err.Error())
		}
	}
	tokens, err := parseTokens(o.APITokens)
	if err != nil {
		problems = append(problems, err.Error())
	}
	if o.WebhookSecret != "" && !strings.HasPrefix(o.WebhookSecret, "whsec_") {
		problems = append(problems, "STRIPE_WEBHOOK_SECRET is not a webhook signing secret (whsec_…)")
	}
	if _, _, err := net.SplitHostPort(o.ListenAddr); err != nil {
		problems = append(problems, fmt.Sprintf("LISTEN_ADDR %q is not host:port (such as :8080)", o.ListenAddr))
	}
	if o.ShutdownTimeout <= 0 {
		problems = append(problems, "SHUTDOWN_TIMEOUT must be positive")
	}
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", reconcile.ErrConfig, strings.Join(problems, "; "))
	}

	o.StripeTestMode = strings.HasPrefix(s.StripeAPIKey, "sk_test_") || strings.HasPrefix(s.StripeAPIKey, "rk_test_")
	a, err := openApp(ctx, &s, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	return serve(ctx, a, o, sched, tokens, store.Redact(s.DatabaseURL), stdout)
}

func stripeStats(st gateway.Stats, responses []gateway.ResponseCount) server.StripeStats {
	rs := make([]server.StripeResponses, len(responses))
	for i, r := range responses {
		rs[i] = server.StripeResponses{Endpoint: r.Endpoint, Status: r.Status, Requests: r.Requests}
	}
	return server.StripeStats{
		Responses: rs,
		Requests: map[string]int64{
			"list_refunds":              st.ListRefundsRequests,
			"retrieve_refund":           st.RetrieveRefundRequests,
			"list_charges":              st.ListChargesRequests,
			"list_balance_transactions": st.ListBalanceTransactionsRequests,
			"other":                     st.OtherRequests,
		},
		Attempts: st.Attempts, Retries: st.Retries, RateLimited: st.RateLimited,
		ServerErrors: st.ServerErrors, NetworkErrors: st.NetworkErrors, Timeouts: st.Timeouts,
		LimiterWait: st.LimiterWait,
	}
}

// serve runs until ctx ends (SIGTERM, SIGINT), then shuts down: it stops
// accepting requests and firing the schedule, lets the work in progress
// finish within the shutdown timeout, then cancels it (a cancelled run
// records itself as failed) and waits for that.
func serve(ctx context.Context, a *app, o serveOptions, sched cron.Schedule, tokens []reconcile.Token, database string, stdout io.Writer) error {
	log := a.log
	a.lockWait = lockWait{window: serveWindowLockWait, customer: serveCustomerLockWait}

	// Work (customer checks, re-checks) runs on a context that outlives the
	// signal by the shutdown timeout.
	work, cancelWork := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelWork()
	checks := newInFlight()

	b := currentBuild()
	metrics := server.NewMetrics(server.MetricsConfig{
		Unresolved:    func(ctx context.Context) ([]reconcile.Discrepancy, error) { return a.db.OpenDiscrepancies(ctx, "") },
		Stripe:        func() server.StripeStats { return stripeStats(a.gateway.Stats(), a.gateway.ResponseCounts()) },
		LastSucceeded: a.db.LastSucceeded,
		ValidCurrency: money.Valid,
		Build:         server.BuildInfo{Version: b.Version, Commit: b.Commit, GoVersion: b.GoVersion},
		Logger:        log,
	})
	if err := metrics.Register(collectors.NewDBStatsCollector(a.db.SQLX().DB, "refundrecon")); err != nil {
		return fmt.Errorf("register database metrics: %w", err)
	}
	a.afterRun = append(a.afterRun, metrics.ObserveRun)

	check := func(ctx context.Context, customerID string) (reconcile.Report, error) {
		if !checks.begin() {
			return reconcile.Report{}, errShuttingDown
		}
		defer checks.end()
		ctx, cancel := context.WithCancel(ctx)
		defer cancel()
		defer context.AfterFunc(work, cancel)()
		rep, err := a.reconcile(ctx, reconcile.Scope{CustomerID: customerID})
		if errors.Is(err, errRunPanicked) {
			metrics.RunPanicked()
		}
		return rep, err
	}
	rechecker := server.NewRechecker(server.RecheckConfig{
		Resolve:  a.gateway.RefundCustomer,
		Check:    func(ctx context.Context, id string) error { _, err := check(ctx, id); return err },
		Debounce: o.RecheckDelay,
		Metrics:  metrics,
		Logger:   log,
	})
	var webhook func([]byte, string) (reconcile.RefundEvent, bool, error)
	if o.WebhookSecret != "" {
		secret := o.WebhookSecret
		webhook = func(payload []byte, signature string) (reconcile.RefundEvent, bool, error) {
			return gateway.ParseWebhook(payload, signature, secret, gateway.WebhookTolerance)
		}
	} else {
		log.Warn("STRIPE_WEBHOOK_SECRET is not set: POST /webhooks/stripe answers 503")
	}
	if len(tokens) == 0 {
		log.Warn("API_TOKENS is empty: the API refuses every request with 401")
	}
	handler := server.New(server.Config{
		Store:   a.db,
		Check:   check,
		Webhook: webhook,
		Recheck: rechecker.Enqueue,
		Tokens:  tokens,
		Metrics: metrics,
		Logger:  log,
		Page: web.New(web.Config{
			Store: a.db, Tokens: tokens, Logger: log,
			NextRun: nextRunOf(sched), StripeTestMode: o.StripeTestMode,
		}).WithCheck(a.pageCheck), // support page (cmd_lookup.go)
		PageRoutes: slices.Concat(web.Routes, web.CheckRoutes),
	}).WithLookup(a.apiLookup) // POST /api/lookup (cmd_lookup.go)

	ln, err := net.Listen("tcp", o.ListenAddr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", o.ListenAddr, err)
	}
	httpSrv := server.NewHTTPServer(o.ListenAddr, handler, server.DefaultCheckTimeout, log)
	httpSrv.BaseContext = func(net.Listener) context.Context { return work }
	httpErr := make(chan error, 1)
	go func() { httpErr <- httpSrv.Serve(ln) }()

	var bg sync.WaitGroup
	defer rechecker.Stop()
	bg.Go(func() { rechecker.Run(work) })
	alertCtx, stopAlerts := context.WithCancel(work)
	defer stopAlerts()
	if a.alerts != nil && len(a.alerts.Channels) > 0 {
		bg.Go(func() {
			if err := a.alerts.Loop(alertCtx, 30*time.Second); err != nil {
				log.Error("alert delivery stopped", "error", err)
			}
		})
	}

	if sched == nil {
		// SCHEDULE=off: runs come from a CronJob or a timer; serve is the
		// API, the page, webhooks and metrics.
		sched = never{}
	}
	scheduler := schedule.New(schedule.Config{
		Schedule: sched,
		Job: func(ctx context.Context, slot time.Time) error {
			return a.scheduledRun(ctx, slot, metrics)
		},
		Logger:  log,
		OnSkip:  func() { metrics.RunSkipped("overlap") },
		OnPanic: metrics.RunPanicked,
	})
	scheduler.Start(ctx)
	tokenNames := make([]string, len(tokens))
	for i, t := range tokens {
		tokenNames[i] = t.Name + ":" + string(t.Role)
	}
	log.Info("serving", "addr", ln.Addr().String(), "schedule", o.Schedule, "next_run", scheduler.Next(),
		"api_tokens", tokenNames, "webhooks", webhook != nil, "database", database)
	fmt.Fprintf(stdout, "refundrecon serving on %s\n", ln.Addr())

	select {
	case <-ctx.Done():
	case err := <-httpErr:
		cancelWork()
		_ = scheduler.Stop(o.ShutdownTimeout)
		return fmt.Errorf("http server: %w", err)
	}

	log.Info("shutting down", "grace", o.ShutdownTimeout.String())
	var stopping sync.WaitGroup
	stopping.Go(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), o.ShutdownTimeout)
		defer cancel()
		if err := httpSrv.Shutdown(sctx); err != nil {
			log.Warn("http shutdown: requests still running after the grace period", "error", err)
		}
	})
	stopping.Go(func() {
		if err := scheduler.Stop(o.ShutdownTimeout); err != nil {
			log.Warn("scheduled run did not finish in time", "error", err)
		}
	})
	// Re-checks still waiting are dropped (the next nightly run covers
	// them); the one in progress, if any, finishes within the grace.
	rechecker.Stop()
	stopping.Wait()
	// Whatever still runs is cancelled now, records itself as failed, and is
	// waited for; no check starts any more.
	idle := checks.close()
	cancelWork()
	done := make(chan struct{})
	go func() {
		<-idle
		bg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(o.ShutdownTimeout):
		log.Error("work still running after cancellation; a run left running is recorded as failed by the next one")
	}
	_ = httpSrv.Close()
	log.Info("stopped")
	return nil
}

// scheduledRun is the nightly run of one slot: the 90 days before it. It
// logs why it did not run, if it did not; app.reconcile logs the run.
func (a *app) scheduledRun(ctx context.Context, slot time.Time, metrics *server.Metrics) error {
	scope := reconcile.Scope{Since: slot.Add(-nightlyWindow), Until: slot}
	_, err := a.reconcile(ctx, scope)
	switch {
	case err == nil:
	case errors.Is(err, errSlotDone):
		metrics.RunSkipped("done")
		a.log.Info("scheduled run skipped: another process made it", "slot", slot)
	case errors.Is(err, reconcile.ErrLocked):
		metrics.RunSkipped("locked")
		a.log.Warn("scheduled run skipped: another reconciliation held the lock", "slot", slot, "waited", serveWindowLockWait.String(), "error", err)
	case errors.Is(err, errRunPanicked):
		metrics.RunPanicked()
	default:
		a.log.Error("scheduled run failed", "slot", slot, "error", err)
	}
	return err
}

var _ http.Handler = (*server.Server)(nil)

// scheduleOff: SCHEDULE=off (any case) runs no schedule.
func scheduleOff(spec string) bool { return strings.EqualFold(strings.TrimSpace(spec), "off") }

// never is the schedule of SCHEDULE=off: it never fires.
type never struct{}

func (never) Next(time.Time) time.Time { return time.Time{} }

// nextRunOf is sched's Next, or nil with no schedule (SCHEDULE=off): a
// method value of a nil interface would panic.
func nextRunOf(sched cron.Schedule) func(time.Time) time.Time {
	if sched == nil {
		return nil
	}
	return sched.Next
}
