package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/refundrecon/refundrecon/reconcile"
)

// PromQL words that are not metric names.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "inf": true, "nan": true,
}

// metricNames returns the metric names a PromQL expression reads. It drops
// strings, label matchers, ranges, grouping clauses and function names,
// which is enough for the expressions of deploy/.
func metricNames(expr string) []string {
	expr = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllString(expr, `""`)
	expr = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(expr, " ")
	expr = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(expr, " ")
	expr = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`).ReplaceAllString(expr, " ")
	var out []string
	for _, m := range regexp.MustCompile(`([A-Za-z_:][A-Za-z0-9_:]*)(\s*\()?`).FindAllStringSubmatch(expr, -1) {
		if m[2] != "" || promqlWords[strings.ToLower(m[1])] {
			continue // a function, or a keyword
		}
		out = append(out, m[1])
	}
	return out
}

func TestMetricNames(t *testing.T) {
	got := metricNames(`histogram_quantile(0.9, sum by (le, scope) (rate(refundrecon_run_duration_seconds_bucket{scope="window", x=~"a|b"}[1d]))) / on (x) group_left foo_total > 26 * 3600 and absent(up_thing)`)
	want := []string{"refundrecon_run_duration_seconds_bucket", "foo_total", "up_thing"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("metricNames = %v, want %v", got, want)
	}
}

// opsExpressions are the PromQL expressions of the rules file (rules) and
// of the Grafana dashboard (dashboard), by where they come from.
func opsExpressions(t *testing.T) (rules, dashboard map[string]string) {
	t.Helper()
	root := filepath.Join("..", "..", "deploy")
	rules, dashboard = map[string]string{}, map[string]string{}
	b, err := os.ReadFile(filepath.Join(root, "prometheus", "refundrecon-rules.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct{ Alert, Record, Expr string }
		}
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules["rule "+r.Alert+r.Record] = r.Expr
		}
	}
	b, err = os.ReadFile(filepath.Join(root, "grafana", "refundrecon.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ RefID, Expr string }
		}
		Templating struct {
			List []struct {
				Name  string
				Query any
			}
		}
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana/refundrecon.json: %v", err)
	}
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			dashboard["panel "+p.Title+" "+tg.RefID] = tg.Expr
		}
	}
	for _, v := range dash.Templating.List {
		if q, ok := v.Query.(string); ok {
			if inner, ok := strings.CutPrefix(q, "label_values("); ok {
				metric, _, _ := strings.Cut(inner, ",")
				dashboard["variable "+v.Name] = strings.TrimSpace(metric)
			}
		}
	}
	if len(rules) < 5 || len(dashboard) < 10 {
		t.Fatalf("only %d rules and %d dashboard expressions found in deploy/", len(rules), len(dashboard))
	}
	return rules, dashboard
}

// scrapeNames returns the metric names of serve's /metrics, and the text.
func scrapeNames(t *testing.T, p *serveProc) (map[string]bool, string) {
	t.Helper()
	code, body := p.request("GET", "/metrics", "", "")
	if code != 200 {
		t.Fatalf("/metrics: %d", code)
	}
	exposed := map[string]bool{}
	for _, line := range strings.Split(string(body), "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		exposed[line[:strings.IndexAny(line, "{ ")]] = true
	}
	return exposed, string(body)
}

// checkNamed reports the metrics exprs name that exposed lacks, and counts
// the references.
func checkNamed(t *testing.T, exprs map[string]string, exposed map[string]bool, when string) int {
	t.Helper()
	named := 0
	for where, expr := range exprs {
		for _, m := range metricNames(expr) {
			named++
			if !exposed[m] {
				t.Errorf("%s names %s, which serve does not expose %s", where, m, when)
			}
		}
	}
	if t.Failed() {
		var names []string
		for n := range exposed {
			names = append(names, n)
		}
		sort.Strings(names)
		t.Logf("exposed %s: %s", when, strings.Join(names, " "))
	}
	return named
}

// TestOpsFilesUseExposedMetrics: every metric the alert rules name is on
// the /metrics of a serve that has made no run yet (so that an alert on it
// can fire from the start), and promtool accepts that exposition; every
// metric the dashboard names is exposed by serve (some series, such as money
// at risk by currency or HTTP requests by route, exist once there is
// something to count: they are checked on a serve that has one case and has
// answered one request).
func TestOpsFilesUseExposedMetrics(t *testing.T) {
	rules, dashboard := opsExpressions(t)
	w := newWorld(t)
	p := startServe(t, w, map[string]string{"SCHEDULE": "off"})
	fresh, body := scrapeNames(t, p)
	if n := checkNamed(t, rules, fresh, "before its first run"); n < 8 {
		t.Errorf("only %d metric references in the rules", n)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}

	// One case (a complete ledger refund Stripe has no trace of), found
	// by a run of another process, as a CronJob's; a new serve reads it.
	w.charge("ch_ops", "cus_ops", 4500, "usd", w.ago(20*24*time.Hour))
	w.ledger(reconcile.LedgerRefund{ID: "lr_ops", CustomerID: "cus_ops", ChargeID: "ch_ops", Amount: 4500, Currency: "usd",
		Status: reconcile.LedgerComplete, CreatedAt: w.ago(48 * time.Hour), CompletedAt: w.ago(48 * time.Hour)})
	if _, stderr, err := w.run("run"); err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	p = startServe(t, w, map[string]string{"SCHEDULE": "off"})
	_, _ = scrapeNames(t, p) // one request, for the HTTP series
	later, _ := scrapeNames(t, p)
	if n := checkNamed(t, dashboard, later, "with one case"); n < 15 {
		t.Errorf("only %d metric references in the dashboard", n)
	}

	promtool, err := exec.LookPath("promtool")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("promtool is not installed (apt-get install prometheus); CI needs it")
		}
		t.Skip("promtool is not installed (apt-get install prometheus provides it)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(body)
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

// TestServeScheduleOff: SCHEDULE=off starts serve with no schedule, in any
// letter case; it still answers the API and metrics.
func TestServeScheduleOff(t *testing.T) {
	w := newWorld(t)
	p := startServe(t, w, map[string]string{"SCHEDULE": "OFF"})
	lines := p.logLines("serving")
	if len(lines) != 1 || lines[0]["schedule"] != "OFF" {
		t.Fatalf("serving log lines: %v", lines)
	}
	if next, _ := lines[0]["next_run"].(string); !strings.HasPrefix(next, "0001-01-01") {
		t.Errorf("next_run = %q with SCHEDULE=off, want none (zero)", next)
	}
	if code, _ := p.request("GET", "/healthz", "", ""); code != 200 {
		t.Errorf("/healthz: %d", code)
	}
	if err := p.stop(); err != nil {
		t.Fatal(err)
	}
	if n := countRuns(t, w.db); n != 0 {
		t.Errorf("%d runs with SCHEDULE=off", n)
	}
}
