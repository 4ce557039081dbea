package deploycheck

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// repoRoot is the module root: the tests run in internal/deploycheck.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test's directory")
		}
		dir = parent
	}
}

// deployPath is a path under deploy/.
func deployPath(t *testing.T, elem ...string) string {
	t.Helper()
	return filepath.Join(append([]string{repoRoot(t), "deploy"}, elem...)...)
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// The image's user: distroless's nonroot.
const (
	imageUID = 65532
	imageGID = 65532
)

// The HTTP side of serve, as the contract fixes it.
const (
	defaultPort  = 8080
	healthzRoute = "/healthz"
	readyzRoute  = "/readyz"
	metricsRoute = "/metrics"
)

// The nightly schedule: the external scheduler (CronJob, systemd timer) at
// 02:00 UTC; serve runs none of its own (SCHEDULE=off) and is the API, the
// page, webhooks and metrics. The manifests and units must agree with these
// and with each other.
const (
	externalRunHour = 2
	serveSchedule   = "off"
)

// kinds are the contract's discrepancy kinds, in its order.
var kinds = []string{
	"missing_at_gateway", "gateway_failed", "gateway_canceled", "duplicate_at_gateway",
	"gateway_pending_too_long", "currency_mismatch", "amount_mismatch", "customer_mismatch",
	"ledger_not_complete", "missing_in_ledger", "invalid_ledger_row",
}

// contractVariables are the environment variables of the contract, with
// the code's own that predate this package (logging and the classifier's
// durations). knownVariables adds those the code names today.
var contractVariables = map[string]bool{
	"DATABASE_URL": true, "LEDGER_DATABASE_URL": true, "LEDGER_QUERY": true,
	"STRIPE_API_KEY": true, "STRIPE_API_URL": true, "STRIPE_METADATA_KEY": true,
	"STRIPE_WEBHOOK_SECRET": true, "STRIPE_MAX_RPS": true,
	"SLACK_WEBHOOK_URL": true, "PAGERDUTY_ROUTING_KEY": true, "PAGERDUTY_EVENTS_URL": true,
	"ALERT_WEBHOOK_URL": true, "ALERT_WEBHOOK_SECRET": true,
	"LISTEN_ADDR": true, "API_TOKENS": true, "SCHEDULE": true,
	"LOG_LEVEL": true, "LOG_FORMAT": true, "GRACE": true, "PENDING_AFTER": true, "MARGIN": true,
}

// knownVariables are the environment variables refundrecon reads: the
// contract's, and every upper-case string literal of cmd/refundrecon (where
// each flag names its variable). A configuration naming anything else has
// a typo.
func knownVariables(t *testing.T) map[string]bool {
	t.Helper()
	known := maps.Clone(contractVariables)
	files, err := filepath.Glob(filepath.Join(repoRoot(t), "cmd", "refundrecon", "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	literal := regexp.MustCompile(`"([A-Z][A-Z0-9_]{2,})"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		for _, m := range literal.FindAllStringSubmatch(readFile(t, f), -1) {
			known[m[1]] = true
		}
	}
	return known
}

// secretVariables hold keys, passwords or tokens: they come from a Secret
// (or an env file readable by root only), never from a ConfigMap or a
// literal in a manifest. Database URLs carry passwords; webhook URLs are
// bearer credentials.
var secretVariables = map[string]bool{
	"DATABASE_URL": true, "LEDGER_DATABASE_URL": true,
	"STRIPE_API_KEY": true, "STRIPE_WEBHOOK_SECRET": true, "API_TOKENS": true,
	"SLACK_WEBHOOK_URL": true, "PAGERDUTY_ROUTING_KEY": true,
	"ALERT_WEBHOOK_URL": true, "ALERT_WEBHOOK_SECRET": true,
}

// cronHour is the hour field of a five-field cron spec, after an optional
// CRON_TZ= or TZ= prefix; -1 when it is not a single number.
func cronHour(spec string) int {
	f := strings.Fields(spec)
	if len(f) > 0 && (strings.HasPrefix(f[0], "CRON_TZ=") || strings.HasPrefix(f[0], "TZ=")) {
		f = f[1:]
	}
	if len(f) != 5 {
		return -1
	}
	h := 0
	for _, c := range f[1] {
		if c < '0' || c > '9' {
			return -1
		}
		h = h*10 + int(c-'0')
	}
	return h
}
