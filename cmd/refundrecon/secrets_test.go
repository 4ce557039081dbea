package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
)

// No secret — the Stripe key, the database password, API tokens, webhook
// secrets, the Slack URL's secret path, the PagerDuty key — reaches any
// output of any command, at debug level, in success and in failure.
func TestNoSecretInAnyOutput(t *testing.T) {
	w := newWorld(t)
	seedScenario(w)
	var received atomic.Int64
	receiver := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		received.Add(1)
		rw.WriteHeader(http.StatusOK)
	}))
	defer receiver.Close()

	const (
		dbPassword    = "db-pass-Zq81xV3"
		slackSecret   = "T0SECRET/B0SECRET/slacksecretpath42"
		pagerDutyKey  = "pd-routing-key-9f8e7d6c5b4a"
		webhookSecret = "alert-webhook-secret-3c2b1a"
		apiToken      = "tok_api_secret_55aa66bb77cc"
	)
	u, err := url.Parse(w.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword(u.User.Username(), dbPassword) // trust auth ignores it
	w.env["DATABASE_URL"] = u.String()
	w.env["LOG_LEVEL"] = "debug"
	w.env["SLACK_WEBHOOK_URL"] = receiver.URL + "/services/" + slackSecret
	w.env["PAGERDUTY_ROUTING_KEY"] = pagerDutyKey
	w.env["PAGERDUTY_EVENTS_URL"] = receiver.URL + "/v2/enqueue"
	w.env["ALERT_WEBHOOK_URL"] = receiver.URL + "/hook"
	w.env["ALERT_WEBHOOK_SECRET"] = webhookSecret
	w.env["ALERT_DRAIN"] = "0"
	w.env["API_TOKENS"] = "finance:" + apiToken

	var all bytes.Buffer
	runs := [][]string{
		{"run"}, {"run", "--format", "json"}, {"customer", "cus_late"}, {"customer", "cus_late", "--format", "json"},
		{"report"}, {"report", "--format", "csv"}, {"report", "--format", "json"}, {"report", "--format", "html"},
		{"run", "--bogus"}, {"migrate"},
	}
	for _, args := range runs {
		out, errs, err := w.run(args...)
		all.WriteString(out + errs)
		if err != nil {
			all.WriteString(err.Error())
			var b bytes.Buffer
			exitCode(err, &b)
			all.Write(b.Bytes())
		}
	}
	// A refused key, and an unreachable database, fail: their messages too.
	w.env["STRIPE_API_KEY"] = "sk_test_revoked_but_secret_777"
	out, errs, err := w.run("run", "--format", "json")
	all.WriteString(out + errs)
	if err == nil {
		t.Fatal("a refused key did not fail the run")
	}
	all.WriteString(err.Error())
	w.env["DATABASE_URL"] = "postgres://root:" + dbPassword + "@127.0.0.1:1/test?sslmode=disable&connect_timeout=2"
	out, errs, err = w.run("report")
	all.WriteString(out + errs)
	if err == nil {
		t.Fatal("an unreachable database did not fail")
	}
	all.WriteString(err.Error())

	if received.Load() == 0 {
		t.Fatal("no alert was sent: the channels' secrets were not exercised")
	}
	text := all.String()
	for _, secret := range []string{testKey, "sk_test_revoked_but_secret_777", dbPassword, slackSecret, "slacksecretpath42",
		pagerDutyKey, webhookSecret, apiToken} {
		if strings.Contains(text, secret) {
			i := strings.Index(text, secret)
			t.Errorf("secret %q appears in the output: …%s…", secret, text[max(0, i-120):min(len(text), i+40)])
		}
	}
	if len(text) < 2000 {
		t.Fatalf("only %d bytes of output captured: the test proves little", len(text))
	}
}
