package server

import (
	"context"
	"io"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 {
		t.Fatalf("/metrics: %d\n%s", rec.Code, body)
	}
	return string(body)
}

func minor(n int64) *int64 { return &n }

// TestOpsMetrics: build info, the age of the oldest unresolved case by
// kind, money at risk in valid currencies only, the last success read from
// the store (0 before any), Stripe requests by endpoint and status.
func TestOpsMetrics(t *testing.T) {
	now := time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)
	var last time.Time
	cases := []reconcile.Discrepancy{
		{ID: "d1", Kind: reconcile.GatewayFailed, Currency: "usd", LedgerAmount: minor(4500), FirstSeenAt: now.Add(-3 * time.Hour)},
		{ID: "d2", Kind: reconcile.GatewayFailed, Currency: "usd", LedgerAmount: minor(100), FirstSeenAt: now.Add(-1 * time.Hour)},
		{ID: "d3", Kind: reconcile.InvalidLedgerRow, Currency: "xbt", LedgerAmount: minor(999), FirstSeenAt: now.Add(-10 * time.Minute)},
	}
	stats := StripeStats{Responses: []StripeResponses{{"list_refunds", "200", 5}, {"list_refunds", "429", 1}}}
	m := NewMetrics(MetricsConfig{
		Unresolved:    func(context.Context) ([]reconcile.Discrepancy, error) { return cases, nil },
		Stripe:        func() StripeStats { return stats },
		LastSucceeded: func(_ context.Context, customer bool) (time.Time, error) { return last, nil },
		ValidCurrency: money.Valid,
		Build:         BuildInfo{Version: "v1.2.3", Commit: "abc", GoVersion: "go1.26"},
		Now:           func() time.Time { return now },
		CacheFor:      -1,
	})
	text := scrape(t, m)
	for _, want := range []string{
		`refundrecon_build_info{commit="abc",go_version="go1.26",version="v1.2.3"} 1`,
		`refundrecon_oldest_unresolved_discrepancy_age_seconds{kind="gateway_failed"} 10800`,
		`refundrecon_oldest_unresolved_discrepancy_age_seconds{kind="invalid_ledger_row"} 600`,
		`refundrecon_oldest_unresolved_discrepancy_age_seconds{kind="missing_at_gateway"} 0`,
		`refundrecon_money_at_risk_minor_units{currency="usd"} 4600`,
		`refundrecon_last_success_timestamp_seconds{scope="window"} 0`,
		`refundrecon_stripe_responses_total{endpoint="list_refunds",status="200"} 5`,
		`refundrecon_stripe_responses_total{endpoint="list_refunds",status="429"} 1`,
		`refundrecon_stripe_responses_total{endpoint="list_charges",status="200"} 0`,
		`refundrecon_run_duration_seconds_count{scope="window",status="failed"} 0`,
	} {
		if !strings.Contains(text, want+"\n") {
			t.Errorf("missing %s", want)
		}
	}
	if strings.Contains(text, `currency="xbt"`) {
		t.Error("money at risk in xbt, not a currency")
	}

	// A run of another process, recorded in the store, is seen.
	last = now.Add(-2 * time.Hour)
	if text = scrape(t, m); !strings.Contains(text, `refundrecon_last_success_timestamp_seconds{scope="window"} `+unix(last)) {
		t.Errorf("last success from the store not exported:\n%s", grep(text, "last_success"))
	}
	// This process's own later run wins over the store's older answer.
	_ = m.ObserveRun(context.Background(), reconcile.Report{Run: reconcile.Run{ID: "r", Status: reconcile.RunSucceeded,
		StartedAt: now.Add(-time.Minute), FinishedAt: now}})
	if text = scrape(t, m); !strings.Contains(text, `refundrecon_last_success_timestamp_seconds{scope="window"} `+unix(now)) {
		t.Errorf("own run not exported:\n%s", grep(text, "last_success"))
	}
	if !strings.Contains(text, `refundrecon_run_duration_seconds_count{scope="window",status="succeeded"} 1`) {
		t.Errorf("duration by outcome:\n%s", grep(text, "run_duration_seconds_count"))
	}
	promtoolCheckMetrics(t, text)
}

func unix(t time.Time) string { return strconv.FormatFloat(float64(t.Unix()), 'g', -1, 64) + "\n" }

func grep(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// promtoolCheckMetrics runs `promtool check metrics`; without promtool the
// check is skipped, except in CI (CI=true), where it fails.
func promtoolCheckMetrics(t *testing.T, text string) {
	t.Helper()
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (apt-get install prometheus); CI needs it")
		}
		t.Skip("promtool is not installed (apt-get install prometheus provides it)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if strings.HasPrefix(line, "refundrecon_") {
			t.Errorf("promtool: %s", line)
		}
	}
}
