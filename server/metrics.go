package server

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
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
}

// MetricsConfig says where the metrics read what they do not count
// themselves. Nil fields leave their metrics out.
type MetricsConfig struct {
	// Unresolved returns every discrepancy not resolved (open or
	// acknowledged); read at each scrape, at most every CacheFor.
	Unresolved func(ctx context.Context) ([]reconcile.Discrepancy, error)
	// Stripe returns the gateway's counters.
	Stripe func() StripeStats
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
		cfg: cfg,
		reg: prometheus.NewRegistry(),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "refundrecon_runs_total",
			Help: "Reconciliation runs by scope (window: the nightly or a manual run; customer: an on-demand check) and outcome (succeeded or failed).",
		}, []string{"scope", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "refundrecon_run_duration_seconds",
			Help:    "Duration of reconciliation runs, failed ones included.",
			Buckets: []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 3600},
		}, []string{"scope"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "refundrecon_last_success_timestamp_seconds",
			Help: "When the last successful run of the scope finished, in Unix seconds; alert when the nightly one grows old.",
		}, []string{"scope"}),
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
	m.reg.MustRegister(m.runs, m.duration, m.lastSuccess, m.skipped, m.panics, m.webhooks, m.rechecks, m.httpReqs,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, scope := range []string{"window", "customer"} {
		for _, status := range []reconcile.RunStatus{reconcile.RunSucceeded, reconcile.RunFailed} {
			m.runs.WithLabelValues(scope, string(status))
		}
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
		m.duration.WithLabelValues(scope).Observe(run.FinishedAt.Sub(run.StartedAt).Seconds())
	}
	if run.Status == reconcile.RunSucceeded {
		m.lastSuccess.WithLabelValues(scope).Set(float64(run.FinishedAt.Unix()))
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
	m               *Metrics
	open, risk0, up *prometheus.Desc
	mu              sync.Mutex
	at              time.Time
	byKind          map[reconcile.Kind]float64
	risk            map[string]float64
	err             error
}

func newCaseCollector(m *Metrics) *caseCollector {
	return &caseCollector{
		m: m,
		open: prometheus.NewDesc("refundrecon_open_discrepancies",
			"Discrepancies not resolved (open or acknowledged), by kind.", []string{"kind"}, nil),
		risk0: prometheus.NewDesc("refundrecon_money_at_risk_minor_units",
			"Money the unresolved discrepancies put at stake, in minor units of the currency (cents; yen for JPY); see server.AtRisk.", []string{"currency"}, nil),
		up: prometheus.NewDesc("refundrecon_discrepancy_metrics_up",
			"1 when the last read of the discrepancies for these metrics succeeded.", nil, nil),
	}
}

func (c *caseCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.open
	ch <- c.risk0
	ch <- c.up
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
	risk := map[string]float64{}
	for _, d := range ds {
		byKind[d.Kind]++
		if amount, cur := reconcile.AtRisk(d); amount > 0 && validLabel(cur) {
			risk[cur] += float64(amount)
		}
	}
	c.byKind, c.risk, c.at, c.err = byKind, risk, now, nil
}

// validLabel keeps a currency label to three lower-case letters: the
// ledger's currencies are the ledger's, and may be anything.
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
		wait: prometheus.NewDesc("refundrecon_stripe_rate_limit_wait_seconds_total",
			"Time spent waiting on the STRIPE_MAX_RPS rate limiter, all workers added up.", nil, nil),
	}
}

func (c *stripeCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.requests, c.attempts, c.retries, c.rateLimited, c.errs, c.wait} {
		ch <- d
	}
}

func (c *stripeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.stats()
	endpoints := make([]string, 0, len(s.Requests))
	for e := range s.Requests {
		endpoints = append(endpoints, e)
	}
	sort.Strings(endpoints)
	for _, e := range endpoints {
		ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.Requests[e]), e)
	}
	ch <- prometheus.MustNewConstMetric(c.attempts, prometheus.CounterValue, float64(s.Attempts))
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.CounterValue, float64(s.Retries))
	ch <- prometheus.MustNewConstMetric(c.rateLimited, prometheus.CounterValue, float64(s.RateLimited))
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.ServerErrors), "server")
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.NetworkErrors), "network")
	ch <- prometheus.MustNewConstMetric(c.errs, prometheus.CounterValue, float64(s.Timeouts), "timeout")
	ch <- prometheus.MustNewConstMetric(c.wait, prometheus.CounterValue, s.LimiterWait.Seconds())
}
