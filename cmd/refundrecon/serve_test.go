package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/stripe/stripe-go/v76/webhook"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

const (
	serveWebhookSecret = "whsec_serve_test_0123456789abcdef"
	serveToken         = "tok_support_0123456789abcdef"
)

// lockedBuffer is an io.Writer that goroutines share.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// serveProc is one `refundrecon serve` running in the test's process: one
// replica, with database connections of its own.
type serveProc struct {
	t              *testing.T
	cancel         context.CancelFunc
	done           chan error
	base           string // http://127.0.0.1:PORT
	stdout, stderr *lockedBuffer
}

// startServe starts serve in w with the world's environment plus env, and
// waits until it listens. It is stopped (as by SIGTERM) when the test ends.
func startServe(t *testing.T, w *world, env map[string]string) *serveProc {
	t.Helper()
	all := maps.Clone(w.env)
	all["LISTEN_ADDR"] = "127.0.0.1:0"
	all["SCHEDULE"] = "CRON_TZ=UTC 0 2 1 1 *" // not during the test unless asked
	maps.Copy(all, env)
	ctx, cancel := context.WithCancel(context.Background())
	p := &serveProc{t: t, cancel: cancel, done: make(chan error, 1), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	go func() {
		p.done <- run(ctx, []string{"serve"}, func(k string) string { return all[k] }, p.stdout, p.stderr)
	}()
	deadline, stopTimer := nearDeadline(t, 10*time.Second)
	defer stopTimer()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if addr, ok := strings.CutPrefix(strings.TrimSpace(p.stdout.String()), "refundrecon serving on "); ok {
			p.base = "http://" + addr
			break
		}
		select {
		case err := <-p.done:
			t.Fatalf("serve exited at start: %v\n%s", err, p.stderr)
		default:
		}
		select {
		case <-deadline:
			t.Fatalf("serve did not start:\n%s", p.stderr)
		case <-tick.C:
		}
	}
	t.Cleanup(func() { p.stop() })
	return p
}

// stop asks serve to stop, as SIGTERM does, and returns its error.
func (p *serveProc) stop() error {
	p.cancel()
	deadline, stopTimer := nearDeadline(p.t, time.Minute)
	defer stopTimer()
	select {
	case err := <-p.done:
		p.done <- err // for a second stop
		return err
	case <-deadline:
		p.t.Fatalf("serve did not stop:\n%s", p.stderr)
		return nil
	}
}

func (p *serveProc) request(method, path, token, body string, header ...string) (int, []byte) {
	p.t.Helper()
	req, err := http.NewRequest(method, p.base+path, strings.NewReader(body))
	if err != nil {
		p.t.Fatal(err)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// logLines returns serve's JSON log lines whose msg is msg.
func (p *serveProc) logLines(msg string) []map[string]any {
	var out []map[string]any
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == msg {
			out = append(out, m)
		}
	}
	return out
}

// waitUntil polls cond until it holds. timeout is how long the wait should
// take on an idle machine, not a limit: a loaded machine can take much
// longer, so the test fails only near go test's deadline (see nearDeadline),
// or after timeout when go test has none.
func waitUntil(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline, stop := nearDeadline(t, timeout)
	defer stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-deadline:
			t.Fatalf("timed out waiting for %s", what)
		case <-tick.C:
		}
	}
}

// nearDeadline fires 10 s before go test's deadline (-timeout), leaving
// time to report what the test waited for, or after fallback when go test
// has no deadline. Waits on a condition use it instead of a fixed few
// seconds that a loaded machine may need.
func nearDeadline(t *testing.T, fallback time.Duration) (<-chan time.Time, func() bool) {
	timer := time.NewTimer(budget(t, fallback))
	return timer.C, timer.Stop
}

// budget is how long a test may wait on something: until 10 s before go
// test's deadline, or fallback when go test has none.
func budget(t *testing.T, fallback time.Duration) time.Duration {
	if dl, ok := t.Deadline(); ok {
		return time.Until(dl) - 10*time.Second
	}
	return fallback
}

// windowRuns returns the recorded runs of every customer: until → statuses.
func windowRuns(t *testing.T, db *store.DB) map[time.Time][]string {
	t.Helper()
	var rows []struct {
		Until  time.Time `db:"until"`
		Status string    `db:"status"`
	}
	if err := db.SQLX().Select(&rows, `SELECT until, status FROM runs WHERE customer_id IS NULL ORDER BY until`); err != nil {
		t.Fatal(err)
	}
	out := map[time.Time][]string{}
	for _, r := range rows {
		out[r.Until.UTC()] = append(out[r.Until.UTC()], r.Status)
	}
	return out
}

// simpleCase seeds one customer whose refund the ledger calls complete and
// Stripe succeeded: no discrepancy until Stripe fails it.
func simpleCase(w *world, customer string) {
	day := 24 * time.Hour
	charge, re, lr := "ch_"+customer, "re_"+customer, "lr_"+customer
	w.charge(charge, customer, 4500, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: re, Charge: charge, Amount: 4500, Created: w.ago(10 * day)})
	w.ledger(reconcile.LedgerRefund{ID: lr, CustomerID: customer, ChargeID: charge, GatewayRefundID: re, Amount: 4500,
		Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: w.ago(10 * day), CompletedAt: w.ago(10 * day)})
}

// Two serve processes on one PostgreSQL database, firing every second:
// each slot is run exactly once, by one of them.
func TestServeTwoReplicasRunEachSlotOnce(t *testing.T) {
	w := newWorld(t)
	seedScenario(w)
	env := map[string]string{"SCHEDULE": "@every 1s"}
	a, b := startServe(t, w, env), startServe(t, w, env)
	waitUntil(t, 15*time.Second, "three scheduled runs", func() bool { return len(windowRuns(t, w.db)) >= 3 })
	if err := a.stop(); err != nil {
		t.Fatal(err)
	}
	if err := b.stop(); err != nil {
		t.Fatal(err)
	}
	runs := windowRuns(t, w.db)
	for until, statuses := range runs {
		if len(statuses) != 1 {
			t.Errorf("slot %s ran %d times: %v", until.Format(time.RFC3339), len(statuses), statuses)
		}
		if statuses[0] != "succeeded" {
			t.Errorf("slot %s: %v", until.Format(time.RFC3339), statuses)
		}
		if until.Nanosecond() != 0 {
			t.Errorf("slot %s is not a whole second", until)
		}
	}
	ran := len(a.logLines("run finished")) + len(b.logLines("run finished"))
	skipped := len(a.logLines("scheduled run skipped: another process made it")) + len(b.logLines("scheduled run skipped: another process made it"))
	if ran != len(runs) {
		t.Errorf("%d runs logged, %d recorded", ran, len(runs))
	}
	if skipped == 0 {
		t.Errorf("no process ever skipped a slot the other made: did both fire?\nA:\n%s\nB:\n%s", a.stderr, b.stderr)
	}
	// The scheduled run covers the 90 days before its slot, like `run`.
	var since, until time.Time
	if err := w.db.SQLX().QueryRow(`SELECT since, until FROM runs WHERE customer_id IS NULL LIMIT 1`).Scan(&since, &until); err != nil {
		t.Fatal(err)
	}
	if until.Sub(since) != 2160*time.Hour {
		t.Errorf("nightly window %s, want 2160h", until.Sub(since))
	}
}

// Two `run` commands at once: one works, the other exits 1 saying another
// reconciliation is running.
func TestTwoRunsAtOnce(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)
	// The first run is slow at Stripe.
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/", Delay: 1500 * time.Millisecond})
	type result struct {
		out, stderr string
		err         error
	}
	first := make(chan result, 1)
	go func() {
		out, stderr, err := w.run("run", "--format", "json")
		first <- result{out, stderr, err}
	}()
	waitUntil(t, 10*time.Second, "the first run to reach Stripe", func() bool { return len(w.stripe.Requests()) > 0 })

	_, stderr, err := w.run("run")
	var msg bytes.Buffer
	if code := exitCode(err, &msg); code != exitRunFailed {
		t.Fatalf("second run: exit %d (%v), want 1", code, err)
	}
	t.Logf("second run: %s", strings.TrimSpace(msg.String()))
	if !strings.Contains(msg.String(), "another reconciliation is running") {
		t.Fatalf("second run does not say why: %q\n%s", msg.String(), stderr)
	}
	r := <-first
	if r.err != nil {
		t.Fatalf("first run: %v\n%s", r.err, r.stderr)
	}
	if got := triples(decodeReport(t, r.out)); len(got) != len(want) {
		t.Fatalf("first run found %d discrepancies, want %d", len(got), len(want))
	}
	// Only the first run was recorded; the lock is free again.
	if runs := windowRuns(t, w.db); len(runs) != 1 {
		t.Fatalf("runs recorded: %v", runs)
	}
	if _, _, err := w.run("run"); err != nil {
		t.Fatalf("a run after both: %v", err)
	}
}

// A customer check waits for a run in progress instead of failing.
func TestCustomerWaitsForARunInProgress(t *testing.T) {
	w := newWorld(t)
	simpleCase(w, "cus_wait")
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/", Delay: 700 * time.Millisecond})
	first := make(chan error, 1)
	go func() { _, _, err := w.run("run"); first <- err }()
	waitUntil(t, 10*time.Second, "the run to reach Stripe", func() bool { return len(w.stripe.Requests()) > 0 })
	out, stderr, err := w.run("customer", "cus_wait")
	if err != nil {
		t.Fatalf("customer check did not wait: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "cus_wait") {
		t.Fatalf("verdict: %s", out)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}
}

// signedEvent returns the fake's latest event of type typ, as Stripe would
// deliver it, and its Stripe-Signature made at `at`.
func signedEvent(t *testing.T, w *world, typ string, at time.Time) ([]byte, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, w.url+"/v1/events?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		t.Fatal(err)
	}
	for _, e := range list.Data {
		if strings.Contains(string(e), `"type":"`+typ+`"`) {
			sp := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: e, Secret: serveWebhookSecret, Timestamp: at})
			return e, sp.Header
		}
	}
	t.Fatalf("the fake holds no %s event", typ)
	return nil, ""
}

func countRuns(t *testing.T, db *store.DB) int {
	t.Helper()
	var n int
	if err := db.SQLX().Get(&n, `SELECT COUNT(*) FROM runs`); err != nil {
		t.Fatal(err)
	}
	return n
}

// A correctly signed charge.refund.updated (succeeded → failed) opens a
// gateway_failed case for that customer within seconds; a bad or stale
// signature is 400 and changes nothing.
func TestServeWebhookRechecksTheCustomer(t *testing.T) {
	w := newWorld(t)
	simpleCase(w, "cus_hook")
	simpleCase(w, "cus_other")
	p := startServe(t, w, map[string]string{"STRIPE_WEBHOOK_SECRET": serveWebhookSecret, "RECHECK_DELAY": "100ms"})
	if err := w.stripe.FailRefund("re_cus_hook", "expired_or_canceled_card", time.Now()); err != nil {
		t.Fatal(err)
	}
	payload, sig := signedEvent(t, w, "charge.refund.updated", time.Now())

	// Refused: nothing runs, nothing opens.
	_, stale := signedEvent(t, w, "charge.refund.updated", time.Now().Add(-10*time.Minute))
	other := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: "whsec_someone_else"}).Header
	for name, header := range map[string]string{"unsigned": "", "wrong secret": other, "stale": stale, "garbage": "t=1,v1=00"} {
		if code, body := p.request("POST", "/webhooks/stripe", "", string(payload), "Stripe-Signature", header); code != 400 {
			t.Errorf("%s: %d %s", name, code, body)
		}
	}
	if code, _ := p.request("POST", "/webhooks/stripe", "", string(payload)+" ", "Stripe-Signature", sig); code != 400 {
		t.Errorf("a body changed after signing: %d", code)
	}
	// Refused means never queued: the counters say so, with no wait on a
	// timer (a queued re-check would show as queued before it ran).
	if _, body := p.request("GET", "/metrics", "", ""); !strings.Contains(string(body), `refundrecon_webhook_events_total{outcome="rejected"} 5`) ||
		!strings.Contains(string(body), `refundrecon_webhook_events_total{outcome="queued"} 0`) {
		t.Fatalf("refused webhooks counted:\n%s", grep(string(body), "refundrecon_webhook_events_total"))
	}
	if n := countRuns(t, w.db); n != 0 {
		t.Fatalf("refused webhooks ran %d reconciliations", n)
	}

	start := time.Now()
	if code, body := p.request("POST", "/webhooks/stripe", "", string(payload), "Stripe-Signature", sig); code != 200 {
		t.Fatalf("signed event: %d %s", code, body)
	}
	var cases []reconcile.Discrepancy
	waitUntil(t, 10*time.Second, "an open gateway_failed case", func() bool {
		var err error
		cases, err = w.db.Discrepancies(context.Background(), reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusOpen}})
		if err != nil {
			t.Fatal(err)
		}
		return len(cases) > 0
	})
	t.Logf("case open %s after the webhook", time.Since(start).Round(time.Millisecond))
	if len(cases) != 1 || cases[0].Kind != reconcile.GatewayFailed || cases[0].CustomerID != "cus_hook" ||
		cases[0].FailureReason != "expired_or_canceled_card" {
		t.Fatalf("cases: %+v", cases)
	}
	// The re-check covered that customer only.
	var customers []string
	if err := w.db.SQLX().Select(&customers, `SELECT COALESCE(customer_id, '') FROM runs`); err != nil {
		t.Fatal(err)
	}
	if len(customers) != 1 || customers[0] != "cus_hook" {
		t.Fatalf("runs: %v", customers)
	}
	// The charge → customer look-up is a read.
	for _, r := range w.stripe.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("%s %s sent to Stripe", r.Method, r.Path)
		}
	}
	// An event of another type is acknowledged and ignored.
	ignored := []byte(`{"id":"evt_x","object":"event","created":1,"type":"customer.created","data":{"object":{"id":"cus_9","object":"customer"}}}`)
	h := webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: ignored, Secret: serveWebhookSecret}).Header
	if code, body := p.request("POST", "/webhooks/stripe", "", string(ignored), "Stripe-Signature", h); code != 200 || !strings.Contains(string(body), "ignored") {
		t.Fatalf("other type: %d %s", code, body)
	}
}

func TestServeAPI(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)
	if _, _, err := w.run("run"); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, w, map[string]string{"API_TOKENS": "support:" + serveToken + ", ops:tok_ops_fedcba9876543210"})

	// Health, readiness, and the finance page, which asks for a token first.
	for path, code := range map[string]int{"/healthz": 200, "/readyz": 200, "/": 200, "/login": 200, "/nope": 404} {
		if got, body := p.request("GET", path, "", ""); got != code {
			t.Errorf("GET %s: %d, want %d: %s", path, got, code, body)
		}
	}
	if _, body := p.request("GET", "/", "", ""); !strings.Contains(string(body), "Sign in to refundrecon") {
		t.Errorf("GET / without a session does not lead to the sign-in form:\n%.300s", body)
	}
	// No token, a wrong one.
	for _, token := range []string{"", "tok_support_0123456789abcdeF"} {
		if code, _ := p.request("GET", "/api/discrepancies", token, ""); code != 401 {
			t.Errorf("token %q: %d", token, code)
		}
		if code, _ := p.request("POST", "/api/customers/cus_failed/reconcile", token, ""); code != 401 {
			t.Errorf("token %q on reconcile: %d", token, code)
		}
	}

	list := func(query string) []map[string]any {
		t.Helper()
		code, body := p.request("GET", "/api/discrepancies"+query, serveToken, "")
		if code != 200 {
			t.Fatalf("%s: %d %s", query, code, body)
		}
		var v struct {
			Discrepancies []map[string]any `json:"discrepancies"`
		}
		if err := json.Unmarshal(body, &v); err != nil {
			t.Fatal(err)
		}
		return v.Discrepancies
	}
	if got := list(""); len(got) != len(want) {
		t.Fatalf("default list: %d, want %d", len(got), len(want))
	}
	failed := list("?kind=gateway_failed")
	if len(failed) != 3 {
		t.Fatalf("gateway_failed: %d", len(failed))
	}
	if got := list("?customer_id=cus_late&kind=gateway_failed"); len(got) != 1 || got[0]["ledger_refund_id"] != "lr_late" {
		t.Fatalf("customer filter: %v", got)
	}
	id := list("?customer_id=cus_late")[0]["id"].(string)

	// Acknowledge in the token's name: the audit trail says who.
	code, body := p.request("POST", "/api/discrepancies/"+id+"/ack", serveToken, `{"note": "customer called, refund by transfer"}`)
	if code != 200 {
		t.Fatalf("ack: %d %s", code, body)
	}
	events, err := w.db.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	last := events[len(events)-1]
	if last.Actor != "support" || last.Action != store.ActionAcknowledged || last.Note != "customer called, refund by transfer" {
		t.Fatalf("audit trail: %+v", last)
	}
	if got := list("?status=acknowledged"); len(got) != 1 || got[0]["id"] != id {
		t.Fatalf("acknowledged: %v", got)
	}
	if code, _ := p.request("POST", "/api/discrepancies/"+id+"/ack", serveToken, `{}`); code != 409 {
		t.Fatalf("second ack: %d", code)
	}
	if code, _ := p.request("POST", "/api/discrepancies/dsc_nope/resolve", serveToken, `{"note":"x"}`); code != 404 {
		t.Fatalf("unknown case: %d", code)
	}
	code, body = p.request("POST", "/api/discrepancies/"+id+"/resolve", "tok_ops_fedcba9876543210", `{"note": "refunded by bank transfer"}`)
	if code != 200 {
		t.Fatalf("resolve: %d %s", code, body)
	}
	events, _ = w.db.Events(context.Background(), id)
	if last := events[len(events)-1]; last.Actor != "ops" || last.Action != store.ActionResolved {
		t.Fatalf("resolve audit: %+v", last)
	}

	// The on-demand check answers the contract's run report.
	code, body = p.request("POST", "/api/customers/cus_failed/reconcile", serveToken, "")
	if code != 200 {
		t.Fatalf("reconcile: %d %s", code, body)
	}
	rep := decodeReport(t, string(body))
	if rep.Status != "succeeded" || rep.Scope.CustomerID == nil || *rep.Scope.CustomerID != "cus_failed" ||
		len(rep.Discrepancies) != 1 || rep.Discrepancies[0]["kind"] != "gateway_failed" {
		t.Fatalf("report: %+v", rep)
	}

	// Metrics parse and count what happened.
	code, body = p.request("GET", "/metrics", "", "")
	if code != 200 {
		t.Fatalf("metrics: %d", code)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(body))
	if err != nil {
		t.Fatalf("metrics do not parse: %v", err)
	}
	for _, name := range []string{"refundrecon_runs_total", "refundrecon_run_duration_seconds", "refundrecon_open_discrepancies",
		"refundrecon_money_at_risk_minor_units", "refundrecon_stripe_requests_total", "refundrecon_stripe_rate_limit_wait_seconds_total",
		"refundrecon_stripe_rate_limited_total", "go_sql_open_connections"} {
		if _, ok := families[name]; !ok {
			t.Errorf("no metric %s", name)
		}
	}
	for _, m := range families["refundrecon_runs_total"].GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		if labels["scope"] == "customer" && labels["status"] == "succeeded" && m.GetCounter().GetValue() != 1 {
			t.Errorf("customer runs counted %v, want 1", m.GetCounter().GetValue())
		}
	}
	// Three gateway_failed cases, one resolved by hand.
	if !strings.Contains(string(body), `refundrecon_open_discrepancies{kind="gateway_failed"} 2`) {
		t.Errorf("open gateway_failed not 2:\n%s", grep(string(body), "refundrecon_open_discrepancies"))
	}
}

func grep(text, prefix string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.HasPrefix(l, prefix) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// On SIGTERM a scheduled run in progress finishes within the shutdown
// timeout; past it, it is cancelled and recorded as failed: no run is left
// running and no case changes.
func TestServeShutdownDuringARun(t *testing.T) {
	for _, tc := range []struct {
		name, timeout string
		want          string
	}{
		{"finishes within the grace", "45s", "succeeded"}, // ample on a loaded machine: the run takes ~6s
		{"cancelled after the grace", "200ms", "failed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			seedScenario(w)
			w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/", Delay: 1500 * time.Millisecond, Count: 4})
			p := startServe(t, w, map[string]string{"SCHEDULE": "@every 1s", "SHUTDOWN_TIMEOUT": tc.timeout})
			waitUntil(t, 10*time.Second, "a run to start", func() bool { return countRuns(t, w.db) > 0 })
			start := time.Now()
			if err := p.stop(); err != nil {
				t.Fatal(err)
			}
			t.Logf("stopped in %s", time.Since(start).Round(time.Millisecond))
			var statuses []string
			if err := w.db.SQLX().Select(&statuses, `SELECT status FROM runs`); err != nil {
				t.Fatal(err)
			}
			if len(statuses) != 1 || statuses[0] != tc.want {
				t.Fatalf("runs %v, want [%s]\n%s", statuses, tc.want, p.stderr)
			}
			ds, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
			if err != nil {
				t.Fatal(err)
			}
			if tc.want == "failed" && len(ds) != 0 {
				t.Fatalf("a cancelled run changed %d cases", len(ds))
			}
			if tc.want == "succeeded" && len(ds) == 0 {
				t.Fatal("the finished run recorded nothing")
			}
		})
	}
}

// A run that panics is recovered, recorded as failed, and frees the lock.
func TestRunPanicIsRecorded(t *testing.T) {
	w := newWorld(t)
	simpleCase(w, "cus_p")
	var s settings
	_, e := newFlagSet("run", w.getenv, io.Discard, &s, true)
	if _, err := e.parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.check(true); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	a, err := openApp(context.Background(), &s, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ledger := a.runner.Ledger
	a.runner.Ledger = panicLedger{}
	slot := time.Now().UTC().Truncate(time.Second)
	_, err = a.reconcile(context.Background(), reconcile.Scope{Since: slot.Add(-time.Hour), Until: slot})
	if !errors.Is(err, errRunPanicked) {
		t.Fatalf("err %v, want errRunPanicked", err)
	}
	var rows []struct {
		Status string `db:"status"`
		Error  string `db:"error"`
	}
	if err := w.db.SQLX().Select(&rows, `SELECT status, error FROM runs`); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0].Status != "failed" || !strings.Contains(rows[0].Error, "panic: ledger exploded") {
		t.Fatalf("runs %+v", rows)
	}
	if !strings.Contains(logs.String(), "run panicked") || !strings.Contains(logs.String(), "serve_test.go") {
		t.Fatalf("panic not logged with its stack:\n%s", logs.String())
	}
	a.runner.Ledger = ledger
	if _, err := a.reconcile(context.Background(), reconcile.Scope{CustomerID: "cus_p"}); err != nil {
		t.Fatalf("the lock was not released: %v", err)
	}
}

type panicLedger struct{}

func (panicLedger) Refunds(context.Context, reconcile.LedgerQuery, func(reconcile.LedgerRefund) error) error {
	panic("ledger exploded")
}

func TestServeConfigurationErrors(t *testing.T) {
	w := newWorld(t)
	for _, tc := range []struct {
		name string
		env  map[string]string
		says string
	}{
		{"bad schedule", map[string]string{"SCHEDULE": "0 25 * * *"}, "SCHEDULE"},
		{"zone without spec", map[string]string{"SCHEDULE": "CRON_TZ=UTC"}, "must be followed by a cron spec"},
		{"unknown zone", map[string]string{"SCHEDULE": "CRON_TZ=Mars/Base 0 2 * * *"}, "Mars/Base"},
		{"tokens not pairs", map[string]string{"API_TOKENS": "justatoken"}, "API_TOKENS: entry 1"},
		{"short token", map[string]string{"API_TOKENS": "ann:short"}, "shorter than 16"},
		{"unknown role", map[string]string{"API_TOKENS": "bob:tok_bob_0123456789abcdef:viewer,ann:tok_ann_0123456789abcdef:oops"}, "entry 2 (ann): the role is none of viewer, support, finance, admin"},
		{"webhook secret", map[string]string{"STRIPE_WEBHOOK_SECRET": "sk_test_oops"}, "whsec_"},
		{"listen address", map[string]string{"LISTEN_ADDR": "8080"}, "LISTEN_ADDR"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := maps.Clone(w.env)
			maps.Copy(env, tc.env)
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"serve"}, func(k string) string { return env[k] }, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != exitUsage {
				t.Fatalf("exit %d (%v), want 2", code, err)
			}
			if !strings.Contains(stderr.String(), tc.says) {
				t.Fatalf("stderr does not say %q: %s", tc.says, stderr.String())
			}
			if strings.Contains(stderr.String(), "oops") || strings.Contains(stderr.String(), "justatoken") || strings.Contains(stderr.String(), "tok_") {
				t.Fatalf("a secret is shown: %s", stderr.String())
			}
		})
	}
}

// signedRefundEvent is a refund.updated event about one refund of charge,
// signed with serve's webhook secret.
func signedRefundEvent(id, refund, charge string, at time.Time) ([]byte, string) {
	payload := []byte(fmt.Sprintf(`{"id":%q,"object":"event","created":%d,"type":"refund.updated","data":{"object":{"id":%q,"object":"refund","charge":%q,"status":"succeeded"}}}`,
		id, at.Unix(), refund, charge))
	return payload, webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: serveWebhookSecret, Timestamp: at}).Header
}

// SIGTERM right after a burst of signed webhook events stops serve cleanly
// (no panic, exit 0, well within the grace period), and the re-checks still
// waiting are dropped, not run during shutdown.
func TestServeStopsCleanlyAfterAWebhookBurst(t *testing.T) {
	w := newWorld(t)
	const n = 30
	for i := range n {
		simpleCase(w, fmt.Sprintf("cus_b%02d", i))
	}
	p := startServe(t, w, map[string]string{"STRIPE_WEBHOOK_SECRET": serveWebhookSecret, "RECHECK_DELAY": "1ms", "SHUTDOWN_TIMEOUT": "10m"})
	for i := range n {
		c := fmt.Sprintf("cus_b%02d", i)
		payload, sig := signedRefundEvent(fmt.Sprintf("evt_burst_%02d", i), "re_"+c, "ch_"+c, time.Now())
		if code, body := p.request("POST", "/webhooks/stripe", "", string(payload), "Stripe-Signature", sig); code != 200 {
			t.Fatalf("event %d: %d %s", i, code, body)
		}
	}
	waitUntil(t, 10*time.Second, "re-checks to start", func() bool { return countRuns(t, w.db) > 0 })
	before := countRuns(t, w.db)
	start := time.Now()
	if err := p.stop(); err != nil {
		t.Fatalf("serve after a webhook burst: %v\n%s", err, p.stderr)
	}
	// A shutdown that hangs on the queue lasts the whole grace period; a
	// clean one ends with the check in flight, however slow the machine (a
	// 10 s bound against a 20 s grace could lie under load).
	if took := time.Since(start); took >= 10*time.Minute {
		t.Errorf("stopping waited out the grace period (%s)", took)
	}
	// The check in flight finished (or was cancelled); none started after.
	if after := countRuns(t, w.db); after > before+2 {
		t.Errorf("%d re-check runs started during shutdown (%d before it)", after-before, before)
	}
	var running int
	if err := w.db.SQLX().Get(&running, `SELECT COUNT(*) FROM runs WHERE status = 'running'`); err != nil {
		t.Fatal(err)
	}
	if running != 0 {
		t.Errorf("%d runs left running", running)
	}
}

// API_TOKENS roles through serve: a viewer reads, a support token checks
// customers, neither acknowledges nor resolves (403); an entry without a
// role is finance.
func TestServeTokenRoles(t *testing.T) {
	w := newWorld(t)
	seedScenario(w)
	const viewer, support, finance = "tok_viewer_0123456789abcdef", "tok_support_0123456789abcd", "tok_finance_0123456789abcd"
	p := startServe(t, w, map[string]string{"API_TOKENS": "vic:" + viewer + ":viewer, sam:" + support + ":support, fin:" + finance})
	if code, body := p.request("POST", "/api/customers/cus_failed/reconcile", finance, ""); code != 200 {
		t.Fatalf("finance reconcile: %d %s", code, body)
	}
	ds, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusOpen}})
	if err != nil || len(ds) == 0 {
		t.Fatalf("no open case to review (%v)", err)
	}
	id := ds[0].ID
	for _, tc := range []struct {
		token        string
		list, check  int
		ack, resolve int
	}{
		{viewer, 200, 403, 403, 403},
		{support, 200, 200, 403, 403},
		{finance, 200, 200, 200, 200},
	} {
		got := []int{}
		for _, rq := range []struct{ method, path, body string }{
			{"GET", "/api/discrepancies", ""},
			{"POST", "/api/customers/cus_failed/reconcile", ""},
			{"POST", "/api/discrepancies/" + id + "/ack", `{"note":"seen"}`},
			{"POST", "/api/discrepancies/" + id + "/resolve", `{"note":"fixed"}`},
		} {
			code, _ := p.request(rq.method, rq.path, tc.token, rq.body)
			got = append(got, code)
		}
		if want := []int{tc.list, tc.check, tc.ack, tc.resolve}; !slices.Equal(got, want) {
			t.Errorf("token %s: %v, want %v", tc.token[:len("tok_support")], got, want)
		}
	}
	var actors []string
	if err := w.db.SQLX().Select(&actors, `SELECT actor FROM discrepancy_events WHERE actor IN ('vic', 'sam', 'fin') ORDER BY actor`); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(actors, []string{"fin", "fin"}) {
		t.Errorf("reviews recorded by %v, want fin twice", actors)
	}
}
