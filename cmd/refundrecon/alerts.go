package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/alert"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// alertOptions are the alert settings beyond the contract's channel
// variables (which settings holds).
type alertOptions struct {
	PageKinds       string
	PageMinAmount   string
	DigestThreshold int
	Timeout         time.Duration
	Backoff         time.Duration
	Drain           time.Duration
}

// Defaults of the alert settings.
const (
	defaultDigestThreshold = 20
	defaultAlertDrain      = 30 * time.Second
)

// pagingFlags defines ALERT_PAGE_KINDS and ALERT_PAGE_MIN_AMOUNT: the one
// rule by which alerts page and the HTML report and the page mark cases.
func (e *envFlags) pagingFlags(s *settings) {
	a := &s.Alert
	e.str(&a.PageKinds, "alert-page-kinds", "ALERT_PAGE_KINDS", joinKinds(alert.DefaultPageKinds),
		"kinds that page (PagerDuty severity critical), comma-separated, or none; the rest notify (warning)")
	e.str(&a.PageMinAmount, "alert-page-min-amount", "ALERT_PAGE_MIN_AMOUNT", "0",
		"minor units below which a case of a page kind only notifies: 5000, or by currency usd:5000,jpy:500000")
}

// paging reads the paging rule; what cannot be read is named in problems.
func (o alertOptions) paging() (p reconcile.Paging, problems []string) {
	var err error
	if p.PageKinds, err = alert.ParsePageKinds(o.PageKinds); err != nil {
		problems = append(problems, "ALERT_PAGE_KINDS: "+err.Error())
	}
	if p.PageMinAmount, err = alert.ParseMinAmounts(o.PageMinAmount); err != nil {
		problems = append(problems, "ALERT_PAGE_MIN_AMOUNT: "+err.Error())
	}
	return p, problems
}

// alertFlags defines the alert settings: the contract's channel variables,
// and how alerts are graded, grouped and retried.
func (e *envFlags) alertFlags(s *settings) {
	e.secret(&s.SlackWebhookURL, "slack-webhook-url", "SLACK_WEBHOOK_URL", "Slack incoming webhook for alerts")
	e.secret(&s.PagerDutyRoutingKey, "pagerduty-routing-key", "PAGERDUTY_ROUTING_KEY", "PagerDuty Events API v2 integration key")
	e.str(&s.PagerDutyEventsURL, "pagerduty-events-url", "PAGERDUTY_EVENTS_URL", alert.DefaultPagerDutyURL, "PagerDuty events endpoint")
	// A webhook URL may carry a token: kept out of the usage text like a secret.
	e.secret(&s.AlertWebhookURL, "alert-webhook-url", "ALERT_WEBHOOK_URL", "generic signed webhook for alerts")
	e.secret(&s.AlertWebhookSecret, "alert-webhook-secret", "ALERT_WEBHOOK_SECRET", "HMAC secret signing the generic webhook")
	e.pagingFlags(s)
	a := &s.Alert
	e.count(&a.DigestThreshold, "alert-digest-threshold", "ALERT_DIGEST_THRESHOLD", defaultDigestThreshold,
		"when one run opens or resolves more cases than this, Slack gets one digest instead (0: never)")
	e.duration(&a.Timeout, "alert-timeout", "ALERT_TIMEOUT", alert.DefaultTimeout, "time limit of each alert delivery")
	e.duration(&a.Backoff, "alert-backoff", "ALERT_BACKOFF", alert.DefaultBackoff,
		"delay before retrying a failed delivery; doubles with each attempt up to an hour")
	e.duration(&a.Drain, "alert-drain", "ALERT_DRAIN", defaultAlertDrain,
		"how long a command waits after its run for deliveries being retried (serve keeps retrying)")
}

func joinKinds(ks []reconcile.Kind) string {
	s := make([]string, len(ks))
	for i, k := range ks {
		s[i] = string(k)
	}
	return strings.Join(s, ",")
}

// count defines a non-negative integer flag that falls back on env.
func (e *envFlags) count(p *int, name, env string, def int, help string) {
	e.note(name, env, strconv.Itoa(def))
	if v := e.getenv(env); v != "" {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil || n < 0 {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q is not a whole number ≥ 0", env, v))
		} else {
			def = n
		}
	}
	e.fs.IntVar(p, name, def, help)
}

// checkHTTPURL reports whether s is an http or https URL with a host.
func checkHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}

// alerting builds the enabled channels, as the dispatcher sends them and as
// the store enqueues them. No channel configured means no alert at all.
// Errors wrap reconcile.ErrConfig and never show a secret.
func (s *settings) alerting(log *slog.Logger) (*alert.Dispatcher, []store.AlertChannel, error) {
	o := s.Alert
	rules, problems := o.paging()
	if o.DigestThreshold < 0 {
		problems = append(problems, "ALERT_DIGEST_THRESHOLD must not be negative")
	}
	if o.Timeout <= 0 {
		problems = append(problems, "ALERT_TIMEOUT must be positive")
	}
	if o.Backoff <= 0 {
		problems = append(problems, "ALERT_BACKOFF must be positive")
	}
	if o.Drain < 0 {
		problems = append(problems, "ALERT_DRAIN must not be negative")
	}

	var channels []alert.Channel
	var enqueue []store.AlertChannel
	if s.SlackWebhookURL != "" {
		if !checkHTTPURL(s.SlackWebhookURL) {
			problems = append(problems, "SLACK_WEBHOOK_URL is not an http or https URL")
		}
		channels = append(channels, &alert.Slack{URL: s.SlackWebhookURL, Rules: rules})
		enqueue = append(enqueue, store.AlertChannel{Name: alert.SlackName, DigestOver: o.DigestThreshold})
	}
	if s.PagerDutyRoutingKey != "" {
		if !checkHTTPURL(s.PagerDutyEventsURL) {
			problems = append(problems, fmt.Sprintf("PAGERDUTY_EVENTS_URL %s is not an http or https URL", alert.RedactURL(s.PagerDutyEventsURL)))
		}
		channels = append(channels, &alert.PagerDuty{URL: s.PagerDutyEventsURL, RoutingKey: s.PagerDutyRoutingKey, Rules: rules})
		enqueue = append(enqueue, store.AlertChannel{Name: alert.PagerDutyName})
	}
	if s.AlertWebhookURL != "" {
		if !checkHTTPURL(s.AlertWebhookURL) {
			problems = append(problems, fmt.Sprintf("ALERT_WEBHOOK_URL %s is not an http or https URL", alert.RedactURL(s.AlertWebhookURL)))
		}
		if s.AlertWebhookSecret == "" {
			problems = append(problems, "ALERT_WEBHOOK_URL is set without ALERT_WEBHOOK_SECRET: the webhook must be signed")
		}
		channels = append(channels, &alert.Webhook{URL: s.AlertWebhookURL, Secret: s.AlertWebhookSecret})
		enqueue = append(enqueue, store.AlertChannel{Name: alert.WebhookName})
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%w: %s", reconcile.ErrConfig, strings.Join(problems, "; "))
	}
	d := &alert.Dispatcher{
		Channels: channels,
		Timeout:  o.Timeout,
		Backoff:  o.Backoff,
		Logger:   log,
	}
	return d, enqueue, nil
}

// setupAlerts enables the configured channels on the app's store, so that
// every run enqueues its alerts in its own transaction, and delivers the
// outbox after every run: what this run enqueued and anything an earlier
// process left behind.
func setupAlerts(a *app, s *settings) error {
	d, channels, err := s.alerting(a.log)
	if err != nil {
		return err
	}
	d.Outbox = a.db
	a.db.SetAlertChannels(channels)
	a.alerts = d
	if len(channels) == 0 {
		return nil
	}
	drain := s.Alert.Drain
	a.afterRun = append(a.afterRun, func(ctx context.Context, _ reconcile.Report) error {
		_, err := d.Drain(ctx, drain)
		return err
	})
	return nil
}
