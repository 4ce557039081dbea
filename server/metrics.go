package server

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/refundrecon/refundrecon/reconcile"
)

// StripeStats are the gateway adapter's counters since it started, as the
// metrics export them. cmd converts the adapter's own type.
type StripeStats struct {
	// Requests counts requests by endpoint (list_refunds, retrieve_refund,
	// list_charges, list_balance_transactions, other), retries not counted.
	Requests map[string]int64
	// Attempts counts HTTP attempts, retries included.
	Attempts int64
	Retries  int64
	// RateLimited counts Stripe's 429 answers.
	RateLimited int64
	// ServerErrors, NetworkErrors and Timeouts count failed attempts.
	ServerErrors  int64
	NetworkErrors int64
	Timeouts      int64
	// LimiterWait is the time spent waiting on the adapter's own rate
	// limiter (STRIPE_MAX_RPS), all workers added up.
	LimiterWait time.Duration
	// Responses counts requests by endpoint and final status ("200",
	// "429", "error", "canceled").
	Responses []StripeResponses
}

// StripeResponses is how many requests of one endpoint ended with one
// status.
type StripeResponses struct {
	Endpoint, Status string
	Requests         int64
}

// stripeEndpoints are the endpoints the Stripe metrics always show, so
// that their series exist before the first request.
var stripeEndpoints = []string{"list_refunds", "retrieve_refund", "list_charges", "list_balance_transactions", "other"}

// BuildInfo describes the running binary, for refundrecon_build_info.
type BuildInfo struct {
	Version, Commit, GoVersion string
}

// MetricsConfig says where the metrics read what they do not count
// themselves. Nil fields leave their metrics out.
type MetricsConfig struct {
	// Unresolved returns every discrepancy not resolved (open or
	// acknowledged); read at each scrape, at most every CacheFor.
	Unresolved func(ctx context.Context) ([]reconcile.Discrepancy, error)
	// Stripe returns the gateway's counters.
	Stripe func() StripeStats
	// LastSucceeded returns when the last successful run of a scope (a
	// window, or with customer set a one-customer check) finished, zero
	// when none: read from the store at scrape time (cached like the
	// discrepancies), so that runs of other processes count.
	LastSucceeded func(ctx context.Context, customer bool) (time.Time, error)
	// ValidCurrency keeps money-at-risk series to real currencies
	// (money.Valid); nil accepts any three lower-case letters.
	ValidCurrency func(string) bool
	// Build is exported as refundrecon_build_info.
	Build BuildInfo
	// CacheFor keeps the discrepancy gauges this long between database
	// reads (default 15s), so that frequent scrapes cost one query.
	CacheFor time.Duration
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Metrics are serve's Prometheus metrics, on a registry of their own (never
// the global one).
type Metrics struct {
	cfg MetricsConfig
	reg *prometheus.Registry

	runs        *prometheus.CounterVec
	duration    *prometheus.HistogramVec
	lastSuccess *prometheus.GaugeVec
	skipped     *prometheus.CounterVec
	panics      prometheus.Counter
	webhooks    *prometheus.CounterVec
	rechecks    *prometheus.CounterVec
	httpReqs    *prometheus.CounterVec
	build       *prometheus.GaugeVec

	// last is when this process's last successful run of each scope
	// finished; the store may know a later one (lastSuccessCollector).
	lastMu sync.Mutex
	last   map[string]time.Time
}

// NewMetrics builds the metrics and their registry, with Go runtime and
// process collectors.
func NewMetrics(cfg MetricsConfig) *Metrics {
	if cfg.CacheFor == 0 {
		cfg.CacheFor = 15 * time.Second
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	m := &Metrics{
		cfg:  cfg,
		reg:  prometheus.NewRegistry(),
		last: map[string]time.Time{},
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundrecon_runs_total",
			Help: "Reconciliation runs by scope (window: the nightly or a manual run; customer: an on-demand check) and outcome (succeeded or failed).",
		}, []string{"scope", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refundrecon_run_duration_seconds",
			Help:    "Duration of the reconciliation runs of this process by scope and outcome (succeeded or failed).",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600},
		}, []string{"scope", "status"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refundrecon_last_success_timestamp_seconds",
			Help: "When the last successful run of the scope finished, in Unix seconds, 0 before the first; alert when the nightly one grows old.",
		}, []string{"scope"}),
		build: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refundrecon_build_info",
			Help: "Always 1; the labels say which build runs.",
		}, []string{"version", "commit", "go_version"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundrecon_runs_skipped_total",
			Help: "Scheduled runs not made, by reason: locked (another reconciliation held the lock), done (another process made this slot's run), overlap (the previous run of this process was still going).",
		}, []string{"reason"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "refundrecon_run_panics_total",
			Help: "Runs that panicked; each is recovered and recorded as a failed run.",
		}),
		webhooks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundrecon_webhook_events_total",
			Help: "Stripe webhook deliveries by outcome: queued (a refund event), ignored (another type), rejected (bad signature, stale or malformed), dropped (the re-check queue was full).",
		}, []string{"outcome"}),
		rechecks: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundrecon_rechecks_total",
			Help: "Customer re-checks queued by webhooks, by outcome: succeeded, failed, retried (postponed while another reconciliation ran or after an error), no_customer (the refund's charge has none).",
		}, []string{"outcome"}),
		httpReqs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundrecon_http_requests_total",
			Help: "HTTP requests by route pattern and status code.",
		}, []string{"route", "code"}),
	}
	m.reg.MustRegister(m.runs, m.duration, m.skipped, m.panics, m.webhooks, m.rechecks, m.httpReqs, m.build,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.build.WithLabelValues(cfg.Build.Version, cfg.Build.Commit, cfg.Build.GoVersion).Set(1)
	for _, scope := range []string{"window", "customer"} {
		for _, status := range []reconcile.RunStatus{reconcile.RunSucceeded, reconcile.RunFailed} {
			m.runs.WithLabelValues(scope, string(status))
			m.duration.WithLabelValues(scope, string(status))
		}
		// Before the first run the last success is 0 (long ago): the
		// series exists, so the alert on its age can fire.
		m.lastSuccess.WithLabelValues(scope)
	}
	if cfg.LastSucceeded != nil {
		m.reg.MustRegister(&lastSuccessCollector{m: m})
	} else {
		m.reg.MustRegister(m.lastSuccess)
	}
	for _, r := range []string{"locked", "done", "overlap"} {
		m.skipped.WithLabelValues(r)
	}
	for _, o := range []string{"queued", "ignored", "rejected", "dropped"} {
		m.webhooks.WithLabelValues(o)
	}
	for _, o := range []string{"succeeded", "failed", "retried", "no_customer"} {
		m.rechecks.WithLabelValues(o)
	}
	if cfg.Unresolved != nil {
		m.reg.MustRegister(newCaseCollector(m))
	}
	if cfg.Stripe != nil {
		m.reg.MustRegister(newStripeCollector(cfg.Stripe))
	}
	return m
}

// Register adds a collector of the caller's (the database pool's, say).
func (m *Metrics) Register(c prometheus.Collector) error { return m.reg.Register(c) }

// Registry returns the private registry, for tests.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the metrics in Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
		ErrorLog:      promLogger{m.cfg.Logger},
		Registry:      m.reg,
	})
}

type promLogger struct{ log *slog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn("metrics", "error", strings.TrimSpace(fmt.Sprintln(v...)))
}

func scopeOf(s reconcile.Scope) string {
	if s.CustomerID != "" {
		return "customer"
	}
	return "window"
}

// ObserveRun counts a finished or failed run. It has the shape of an
// after-run hook.
func (m *Metrics) ObserveRun(_ context.Context, rep reconcile.Report) error {
	run := rep.Run
	if run.ID == "" || run.Status == reconcile.RunRunning || run.Status == "" {
		return nil // the run did not start
	}
	scope := scopeOf(run.Scope)
	m.runs.WithLabelValues(scope, string(run.Status)).Inc()
	if !run.FinishedAt.IsZero() && !run.StartedAt.IsZero() {
		m.duration.WithLabelValues(scope, string(run.Status)).Observe(run.FinishedAt.Sub(run.StartedAt).Seconds())
	}
	if run.Status == reconcile.RunSucceeded {
		m.lastMu.Lock()
		if run.FinishedAt.After(m.last[scope]) {
			m.last[scope] = run.FinishedAt
			m.lastSuccess.WithLabelValues(scope).Set(float64(run.FinishedAt.Unix()))
		}
		m.lastMu.Unlock()
	}
	return nil
}

// RunSkipped counts a scheduled run not made: "locked", "done" or
// "overlap".
func (m *Metrics) RunSkipped(reason string) { m.skipped.WithLabelValues(reason).Inc() }

// RunPanicked counts a run that panicked.
func (m *Metrics) RunPanicked() { m.panics.Inc() }

func (m *Metrics) webhook(outcome string) { m.webhooks.WithLabelValues(outcome).Inc() }

func (m *Metrics) recheck(outcome string) { m.rechecks.WithLabelValues(outcome).Inc() }

// caseCollector exports the unresolved discrepancies by kind and the money
// they put at risk by currency, read from the store at scrape time (cached
// for CacheFor): every run, and every person acknowledging or resolving,
// changes them, in any process.
type caseCollector struct {
	m                       *Metrics
	open, risk0, up, oldest *prometheus.Desc
	mu                      sync.Mutex
	at                      time.Time
	byKind                  map[reconcile.Kind]float64
	oldestByKind            map[reconcile.Kind]time.Time
	risk                    map[string]float64
	err                     error
}

func newCaseCollector(m *Metrics) *caseCollector {
	return &caseCollector{
		m: m,
		open: prometheus.NewDesc("refundrecon_open_discrepancies",
			"Discrepancies not resolved (open or acknowledged), by kind.", []string{"kind"}, nil),
		risk0: prometheus.NewDesc("refundrecon_money_at_risk_minor_units",
			"Money the unresolved discrepancies put at stake, in minor units of the currency (cents; yen for JPY); see server.AtRisk.", []string{"currency"}, nil),
		oldest: prometheus.NewDesc("refundrecon_oldest_unresolved_discrepancy_age_seconds",
			"Age of the oldest discrepancy not resolved (open or acknowledged) by kind, from its first sighting; 0 when none.", []string{"kind"}, nil),
		up: prometheus.NewDesc("refundrecon_discrepancy_metrics_up",
			"1 when the last read of the discrepancies for these metrics succeeded.", nil, nil),
	}
}

func (c *caseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.risk0
	ch <- c.up
	ch <- c.oldest
}

func (c *caseCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.m.cfg.Now()
	if c.byKind == nil || now.Sub(c.at) >= c.m.cfg.CacheFor || c.err != nil {
		c.refresh(now)
	}
	up := 1.0
	if c.err != nil {
		up = 0
	}
	ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up)
	if c.byKind == nil {
		return
	}
	for _, k := range reconcile.Kinds {
		ch <- prometheus.MustNewConstMetric(c.open, prometheus.GaugeValue, c.byKind[k], string(k))
		age := 0.0
		if first, ok := c.oldestByKind[k]; ok && now.After(first) {
			age = now.Sub(first).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, string(k))
	}
	currencies := make([]string, 0, len(c.risk))
	for cur := range c.risk {
		currencies = append(currencies, cur)
	}
	sort.Strings(currencies)
	for _, cur := range currencies {
		ch <- prometheus.MustNewConstMetric(c.risk0, prometheus.GaugeValue, c.risk[cur], cur)
	}
}

func (c *caseCollector) refresh(now time.Time) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ds, err := c.m.cfg.Unresolved(ctx)
	if err != nil {
		c.err = err
		c.m.cfg.Logger.Warn("metrics: read unresolved discrepancies", "error", err)
		return
	}
	byKind := make(map[reconcile.Kind]float64, len(reconcile.Kinds))
	oldest := map[reconcile.Kind]time.Time{}
	risk := map[string]float64{}
	for _, d := range ds {
		byKind[d.Kind]++
		if first, ok := oldest[d.Kind]; !d.FirstSeenAt.IsZero() && (!ok || d.FirstSeenAt.Before(first)) {
			oldest[d.Kind] = d.FirstSeenAt
		}
		if amount, cur := reconcile.AtRisk(d); amount > 0 && c.validCurrency(cur) {
			risk[cur] += float64(amount)
		}
	}
	c.byKind, c.oldestByKind, c.risk, c.at, c.err = byKind, oldest, risk, now, nil
}

// validCurrency keeps money-at-risk labels to real currencies: the ledger's
// currencies are the ledger's, and may be anything ("xbt" from a bad row).
func (c *caseCollector) validCurrency(cur string) bool {
	if !validLabel(cur) {
		return false
	}
	return c.m.cfg.ValidCurrency == nil || c.m.cfg.ValidCurrency(cur)
}

// validLabel: three lower-case letters.
func validLabel(cur string) bool {
	if len(cur) != 3 {
		return false
	}
	for i := 0; i < 3; i++ {
		if cur[i] < 'a' || cur[i] > 'z' {
			return false
		}
	}
	return true
}

// stripeCollector exports the gateway's counters at scrape time.
type stripeCollector struct {
	stats                                                func() StripeStats
	requests, attempts, retries, rateLimited, errs, wait *prometheus.Desc
	responses                                            *prometheus.Desc
}

func newStripeCollector(stats func() StripeStats) *stripeCollector {
	return &stripeCollector{
		stats: stats,
		requests: prometheus.NewDesc("refundrecon_stripe_requests_total",
			"Stripe API requests by endpoint, however many attempts each took.", []string{"endpoint"}, nil),
		attempts: prometheus.NewDesc("refundrecon_stripe_attempts_total",
			"Stripe HTTP attempts, retries included.", nil, nil),
		retries: prometheus.NewDesc("refundrecon_stripe_retries_total",
			"Stripe attempts made again after a retryable failure.", nil, nil),
		rateLimited: prometheus.NewDesc("refundrecon_stripe_rate_limited_total",
			"Stripe answers 429 (rate limited).", nil, nil),
		errs: prometheus.NewDesc("refundrecon_stripe_failed_attempts_total",
			"Failed Stripe attempts by kind: server (5xx), network, timeout.", []string{"kind"}, nil),
		responses: prometheus.NewDesc("refundrecon_stripe_responses_total",
			"Stripe API requests by endpoint and the final answer's status: the HTTP code after the last retry, error (no answer) or canceled.", []string{"endpoint", "status"}, nil),
		wait: prometheus.NewDesc("refundrecon_stripe_rate_limit_wait_seconds_total",
			"Time spent waiting on the STRIPE_MAX_RPS rate limiter, all workers added up.", nil, nil),
	}
}

func (c *stripeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.attempts, c.retries, c.rateLimited, c.errs, c.wait, c.responses} {
		ch <- d
	}
}

func (c *stripeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	endpoints := slices.Clone(stripeEndpoints)
	for e := range s.Requests {
		if !slices.Contains(endpoints, e) {
			endpoints = append(endpoints, e)
		}
	}
	sort.Strings(endpoints)
	for _, e := range endpoints {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.Requests[e]), e)
	}
	// Every endpoint shows a 200 series from the start, so that rates of
	// it exist before the first request.
	responses := map[[2]string]int64{}
	for _, e := range stripeEndpoints {
		responses[[2]string{e, "200"}] = 0
	}
	for _, r := range s.Responses {
		responses[[2]string{r.Endpoint, r.Status}] += r.Requests
	}
	keys := slices.Collect(maps.Keys(responses))
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+" "+a[1], b[0]+" "+b[1]) })
	for _, k := range keys {
		ch <- prometheus.MustNewConstMetric(c.responses, prometheus.CounterValue, float64(responses[k]), k[0], k[1])
	}
	ch <- prometheus.MustNewConstMetric(c.attempts, prometheus.CounterValue, float64(s.Attempts))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(c.rateLimited, prometheus.CounterValue, float64(s.RateLimited))
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.ServerErrors), "server")
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.NetworkErrors), "network")
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.Timeouts), "timeout")
	ch <- prometheus.MustNewConstMetric(c.wait, prometheus.CounterValue, s.LimiterWait.Seconds())
}

// lastSuccessCollector exports refundrecon_last_success_timestamp_seconds
// from the store (cfg.LastSucceeded), cached for CacheFor, or from this
// process's own runs when the store cannot answer or knows an older one.
type lastSuccessCollector struct {
	m     *Metrics
	mu    sync.Mutex
	at    time.Time
	times map[string]time.Time
}

func (c *lastSuccessCollector) Describe(ch chan<- *prometheus.Desc) { c.m.lastSuccess.Describe(ch) }

func (c *lastSuccessCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.m.cfg.Now()
	if c.times == nil || now.Sub(c.at) >= c.m.cfg.CacheFor {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		times := map[string]time.Time{}
		ok := true
		for _, scope := range []string{"window", "customer"} {
			t, err := c.m.cfg.LastSucceeded(ctx, scope == "customer")
			if err != nil {
				c.m.cfg.Logger.Warn("metrics: read the last successful run", "error", err)
				ok = false
				break
			}
			times[scope] = t
		}
		if ok {
			c.times, c.at = times, now
		}
	}
	c.m.lastMu.Lock()
	defer c.m.lastMu.Unlock()
	for _, scope := range []string{"window", "customer"} {
		t := c.m.last[scope]
		if st, ok := c.times[scope]; ok && st.After(t) {
			t = st
		}
		v := 0.0
		if !t.IsZero() {
			v = float64(t.Unix())
		}
		c.m.lastSuccess.WithLabelValues(scope).Set(v)
	}
	c.m.lastSuccess.Collect(ch)
}
