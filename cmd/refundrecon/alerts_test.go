package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/alert"
	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// The alert secrets of the tests; none may show in any output.
const (
	slackSecretPath = "/services/T0000/B0000/SLACKSECRETxxxxxxxxxxxx"
	pdRoutingKey    = "pdkey_R0UT1NG_SECRET_00000000000"
	webhookSecret   = "whk_SIGNING_SECRET_000000000"
)

// hookRequest is one request a receiver got.
type hookRequest struct {
	header http.Header
	body   []byte
	status int
}

// hook is a local receiver standing in for Slack, PagerDuty or a webhook:
// it records every request and answers the queued statuses, then ok.
type hook struct {
	srv    *httptest.Server
	mu     sync.Mutex
	got    []hookRequest
	queued []int
	ok     int
}

func newHook(t *testing.T, ok int, queued ...int) *hook {
	h := &hook{ok: ok, queued: queued}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		h.mu.Lock()
		status := h.ok
		if len(h.queued) > 0 {
			status, h.queued = h.queued[0], h.queued[1:]
		}
		h.got = append(h.got, hookRequest{header: r.Header.Clone(), body: body, status: status})
		h.mu.Unlock()
		w.WriteHeader(status)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hook) requests() []hookRequest {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.got)
}

// accepted returns the bodies the receiver accepted (2xx).
func (h *hook) accepted() [][]byte {
	var out [][]byte
	for _, r := range h.requests() {
		if r.status < 300 {
			out = append(out, r.body)
		}
	}
	return out
}

// receivers are the three channels of one world.
type receivers struct {
	slack, pd, webhook *hook
}

// withAlerts points w's alert settings at local receivers, with retries
// fast enough for tests.
func withAlerts(t *testing.T, w *world, rc receivers) {
	w.env["SLACK_WEBHOOK_URL"] = rc.slack.srv.URL + slackSecretPath
	w.env["PAGERDUTY_ROUTING_KEY"] = pdRoutingKey
	w.env["PAGERDUTY_EVENTS_URL"] = rc.pd.srv.URL + "/v2/enqueue"
	w.env["ALERT_WEBHOOK_URL"] = rc.webhook.srv.URL + "/refundrecon"
	w.env["ALERT_WEBHOOK_SECRET"] = webhookSecret
	w.env["ALERT_BACKOFF"] = "10ms"
	w.env["ALERT_DRAIN"] = "10s"
	w.env["ALERT_TIMEOUT"] = "5s"
}

func healthyReceivers(t *testing.T) receivers {
	return receivers{slack: newHook(t, 200), pd: newHook(t, 202), webhook: newHook(t, 200)}
}

// counts is how many requests each receiver got.
func (rc receivers) counts() [3]int {
	return [3]int{len(rc.slack.requests()), len(rc.pd.requests()), len(rc.webhook.requests())}
}

// twoCases seeds an amount mismatch of cus_1 and one of cus_2, each fixed
// by correcting the ledger's amount (fix).
func twoCases(w *world) {
	day := 24 * time.Hour
	for _, c := range []struct{ n, cus string }{{"1", "cus_1"}, {"2", "cus_2"}} {
		w.charge("ch_"+c.n, c.cus, 9000, "usd", w.ago(20*day))
		w.refund(fakestripe.Refund{ID: "re_" + c.n, Charge: "ch_" + c.n, Amount: 4500, Created: w.ago(10 * day)})
		w.ledger(reconcile.LedgerRefund{ID: "lr_" + c.n, CustomerID: c.cus, ChargeID: "ch_" + c.n, GatewayRefundID: "re_" + c.n,
			Amount: 4000, Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: w.ago(10 * day), CompletedAt: w.ago(10 * day)})
	}
}

func fix(t *testing.T, w *world, ledgerID string) {
	t.Helper()
	if _, err := w.db.SQLX().Exec(`UPDATE ledger_refunds SET amount = 4500 WHERE id = $1`, ledgerID); err != nil {
		t.Fatal(err)
	}
}

func caseID(t *testing.T, w *world, ledgerID string) string {
	t.Helper()
	ds, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range ds {
		if d.LedgerRefundID == ledgerID {
			return d.ID
		}
	}
	t.Fatalf("no case of %s", ledgerID)
	return ""
}

func mustRun(t *testing.T, w *world, args ...string) string {
	t.Helper()
	out, stderr, err := w.run(args...)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr)
	}
	for _, secret := range []string{slackSecretPath, pdRoutingKey, webhookSecret} {
		if strings.Contains(out+stderr, secret) {
			t.Fatalf("%s shows the secret %q", strings.Join(args, " "), secret)
		}
	}
	return out
}

type pdEvent struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Severity string `json:"severity"`
		Class    string `json:"class"`
	} `json:"payload"`
}

func pdEvents(t *testing.T, bodies [][]byte) []pdEvent {
	t.Helper()
	out := make([]pdEvent, len(bodies))
	for i, b := range bodies {
		if err := json.Unmarshal(b, &out[i]); err != nil {
			t.Fatalf("pagerduty body: %v\n%s", err, b)
		}
	}
	return out
}

// webhookEvent checks a webhook request's signature and returns its type
// and discrepancy.
func webhookEvent(t *testing.T, r hookRequest) (string, map[string]any) {
	t.Helper()
	if err := alert.VerifySignature(webhookSecret, r.header.Get("Refundrecon-Signature"), r.body, time.Minute, time.Now()); err != nil {
		t.Fatalf("webhook signature: %v", err)
	}
	if r.header.Get("Refundrecon-Delivery") == "" {
		t.Fatal("webhook without a delivery id")
	}
	var body struct {
		Type        string         `json:"type"`
		SentAt      string         `json:"sent_at"`
		Discrepancy map[string]any `json:"discrepancy"`
	}
	dec := json.NewDecoder(bytes.NewReader(r.body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&body); err != nil {
		t.Fatalf("webhook body: %v\n%s", err, r.body)
	}
	if _, err := time.Parse(time.RFC3339, body.SentAt); err != nil {
		t.Fatalf("sent_at %q: %v", body.SentAt, err)
	}
	return body.Type, body.Discrepancy
}

// Every case alerts once on every channel when it opens and once when it
// resolves; runs that change nothing send nothing.
func TestAlertsOpenOnceResolveOnce(t *testing.T) {
	w := newWorld(t)
	rc := healthyReceivers(t)
	withAlerts(t, w, rc)
	twoCases(w)

	rep := decodeReport(t, mustRun(t, w, "run", "--format", "json"))
	if len(rep.Discrepancies) != 2 {
		t.Fatalf("report: %v", triples(rep))
	}
	if got := rc.counts(); got != [3]int{2, 2, 2} {
		t.Fatalf("first run sent %v (slack, pagerduty, webhook), want one per case each", got)
	}
	ids := []string{caseID(t, w, "lr_1"), caseID(t, w, "lr_2")}
	var dedup []string
	for _, e := range pdEvents(t, rc.pd.accepted()) {
		if e.EventAction != "trigger" || e.RoutingKey != pdRoutingKey || e.Payload == nil || e.Payload.Class != "amount_mismatch" ||
			e.Payload.Severity != "warning" {
			t.Errorf("pagerduty event %+v", e)
		}
		dedup = append(dedup, e.DedupKey)
	}
	slices.Sort(dedup)
	slices.Sort(ids)
	if !slices.Equal(dedup, ids) {
		t.Errorf("dedup keys %v, want the case ids %v", dedup, ids)
	}
	// The webhook's discrepancy is the report's, field for field.
	byID := map[string]map[string]any{}
	for _, d := range rep.Discrepancies {
		byID[d["id"].(string)] = d
	}
	for _, r := range rc.webhook.requests() {
		typ, d := webhookEvent(t, r)
		want := byID[d["id"].(string)]
		wantJSON, _ := json.Marshal(want)
		gotJSON, _ := json.Marshal(d)
		if typ != "discrepancy.opened" || string(gotJSON) != string(wantJSON) {
			t.Errorf("webhook %s:\n got  %s\n want %s", typ, gotJSON, wantJSON)
		}
	}
	for _, b := range rc.slack.accepted() {
		if !strings.Contains(string(b), `"blocks"`) || !strings.Contains(string(b), "USD 40.00") || !strings.Contains(string(b), "USD 45.00") {
			t.Errorf("slack message: %s", b)
		}
	}
	t.Logf("slack payload: %s", rc.slack.accepted()[0])
	t.Logf("pagerduty payload: %s", rc.pd.accepted()[0])
	t.Logf("webhook payload: %s\n%s: %s", rc.webhook.requests()[0].body, alert.SignatureHeader, rc.webhook.requests()[0].header.Get(alert.SignatureHeader))

	// Unchanged data: nothing more.
	mustRun(t, w, "run")
	if got := rc.counts(); got != [3]int{2, 2, 2} {
		t.Fatalf("a second run over unchanged data sent %v", got)
	}

	// The ledger is corrected: exactly one resolve per channel.
	fix(t, w, "lr_1")
	mustRun(t, w, "run")
	if got := rc.counts(); got != [3]int{3, 3, 3} {
		t.Fatalf("after the fix: %v, want one resolve per channel", got)
	}
	resolved := caseID(t, w, "lr_1")
	if e := pdEvents(t, rc.pd.accepted())[2]; e.EventAction != "resolve" || e.DedupKey != resolved || e.RoutingKey != pdRoutingKey {
		t.Errorf("pagerduty resolve %+v", e)
	}
	if typ, d := webhookEvent(t, rc.webhook.requests()[2]); typ != "discrepancy.resolved" || d["id"] != resolved || d["status"] != "resolved" {
		t.Errorf("webhook resolve %s %v", typ, d)
	}
	if b := rc.slack.accepted()[2]; !strings.Contains(string(b), "resolved") || !strings.Contains(string(b), resolved) {
		t.Errorf("slack resolve: %s", b)
	}

	mustRun(t, w, "run")
	if got := rc.counts(); got != [3]int{3, 3, 3} {
		t.Fatalf("a run after the resolve sent %v", got)
	}
	if p, _ := w.db.Outbox(context.Background(), true); len(p) != 0 {
		t.Fatalf("pending alerts: %+v", p)
	}
}

// A receiver that answers 500 twice and then 200 gets the alert exactly
// once, within the run.
func TestAlertsRetryUntilAccepted(t *testing.T) {
	w := newWorld(t)
	rc := receivers{slack: newHook(t, 200), pd: newHook(t, 202), webhook: newHook(t, 200, 500, 500)}
	withAlerts(t, w, rc)
	twoCases(w)
	fix(t, w, "lr_2") // one case only

	mustRun(t, w, "run")
	got := rc.webhook.requests()
	if len(got) != 3 || len(rc.webhook.accepted()) != 1 {
		t.Fatalf("webhook got %d requests, %d accepted; want 3 and 1", len(got), len(rc.webhook.accepted()))
	}
	for _, r := range got {
		if r.header.Get("Refundrecon-Delivery") != got[0].header.Get("Refundrecon-Delivery") {
			t.Error("the delivery id changed between retries")
		}
		webhookEvent(t, r)
	}
	all, err := w.db.Outbox(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all {
		want := 1
		if e.Channel == alert.WebhookName {
			want = 3
		}
		if e.DeliveredAt.IsZero() || e.Attempts != want {
			t.Errorf("outbox %s: attempts %d (want %d), delivered %v", e.Key, e.Attempts, want, e.DeliveredAt)
		}
	}
	mustRun(t, w, "run")
	if n := len(rc.webhook.requests()); n != 3 {
		t.Fatalf("a later run sent the webhook again (%d requests)", n)
	}
}

// A process stopped between the run's commit and the delivery leaves the
// alerts in the outbox; the next process delivers them exactly once.
func TestAlertsSurviveAStopBeforeDelivery(t *testing.T) {
	w := newWorld(t)
	rc := healthyReceivers(t)
	withAlerts(t, w, rc)
	twoCases(w)

	// The first process: the run commits, and the process stops before its
	// after-run hooks deliver anything.
	ctx := context.Background()
	var s settings
	_, e := newFlagSet("run", w.getenv, io.Discard, &s, true)
	if _, err := e.parse(nil); err != nil {
		t.Fatal(err)
	}
	if err := s.check(true); err != nil {
		t.Fatal(err)
	}
	a, err := openApp(ctx, &s, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a.afterRun = nil
	if _, err := a.reconcile(ctx, reconcile.Scope{Since: w.ago(90 * 24 * time.Hour), Until: time.Now().UTC()}); err != nil {
		t.Fatal(err)
	}
	a.Close()
	if got := rc.counts(); got != [3]int{} {
		t.Fatalf("the stopped process sent %v", got)
	}
	if p, _ := w.db.Outbox(ctx, true); len(p) != 6 {
		t.Fatalf("%d alerts pending, want 6", len(p))
	}

	// The next start delivers them, once.
	mustRun(t, w, "run")
	if got := rc.counts(); got != [3]int{2, 2, 2} {
		t.Fatalf("the next run sent %v, want the 6 pending alerts once", got)
	}
	mustRun(t, w, "run")
	if got := rc.counts(); got != [3]int{2, 2, 2} {
		t.Fatalf("a third run sent %v", got)
	}
}

// A customer run resolves that customer's cases only.
func TestAlertsCustomerRunResolvesOnlyItsCustomer(t *testing.T) {
	w := newWorld(t)
	rc := healthyReceivers(t)
	withAlerts(t, w, rc)
	twoCases(w)
	mustRun(t, w, "run")
	one, two := caseID(t, w, "lr_1"), caseID(t, w, "lr_2")

	fix(t, w, "lr_1")
	fix(t, w, "lr_2")
	mustRun(t, w, "customer", "cus_1")
	events := pdEvents(t, rc.pd.accepted())
	if len(events) != 3 || events[2].EventAction != "resolve" || events[2].DedupKey != one {
		t.Fatalf("after cus_1's run: %+v", events)
	}
	if d, _ := w.db.Discrepancy(context.Background(), two); d.Status != reconcile.StatusOpen {
		t.Fatalf("cus_1's run resolved cus_2's case: %s", d.Status)
	}
	// The nightly run resolves the other, and only that.
	mustRun(t, w, "run")
	events = pdEvents(t, rc.pd.accepted())
	if len(events) != 4 || events[3].EventAction != "resolve" || events[3].DedupKey != two {
		t.Fatalf("after the full run: %+v", events)
	}
	if got := rc.counts(); got != [3]int{4, 4, 4} {
		t.Fatalf("sent %v", got)
	}
}

// A failed run resolves nothing and enqueues nothing.
func TestAlertsFailedRunSendsNothing(t *testing.T) {
	w := newWorld(t)
	rc := healthyReceivers(t)
	withAlerts(t, w, rc)
	twoCases(w)
	mustRun(t, w, "run")
	before, err := w.db.Outbox(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}

	fix(t, w, "lr_1")
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Count: 1000, RepeatCursor: true})
	_, _, err = w.run("run")
	if exitCode(err, &bytes.Buffer{}) != exitRunFailed {
		t.Fatalf("the run did not fail: %v", err)
	}
	after, err := w.db.Outbox(context.Background(), false)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("a failed run enqueued %d alerts", len(after)-len(before))
	}
	if got := rc.counts(); got != [3]int{2, 2, 2} {
		t.Fatalf("a failed run sent %v", got)
	}
	if d, _ := w.db.Discrepancy(context.Background(), caseID(t, w, "lr_1")); d.Status != reconcile.StatusOpen {
		t.Fatalf("a failed run resolved a case: %s", d.Status)
	}
}

// A run that opens more cases than the threshold sends Slack one digest;
// PagerDuty and the webhook still get one alert per case.
func TestAlertsDigest(t *testing.T) {
	w := newWorld(t)
	rc := healthyReceivers(t)
	withAlerts(t, w, rc)
	w.env["ALERT_DIGEST_THRESHOLD"] = "5"
	want := seedScenario(w)
	mustRun(t, w, "run")
	if got := rc.counts(); got != [3]int{1, len(want), len(want)} {
		t.Fatalf("sent %v, want 1 slack digest and %d per case", got, len(want))
	}
	digest := string(rc.slack.accepted()[0])
	for _, s := range []string{"14 refund discrepancies opened", "gateway_failed", "Money at risk", "Top 10 cases"} {
		if !strings.Contains(digest, s) {
			t.Errorf("digest lacks %q: %s", s, digest)
		}
	}
	// Severity by kind: the three page kinds are critical.
	critical := 0
	for _, e := range pdEvents(t, rc.pd.accepted()) {
		if e.Payload.Severity == "critical" {
			critical++
			if !slices.Contains([]string{"gateway_failed", "missing_at_gateway", "duplicate_at_gateway"}, e.Payload.Class) {
				t.Errorf("%s pages", e.Payload.Class)
			}
		}
	}
	if critical != 5 { // three gateway_failed, one missing_at_gateway, one duplicate_at_gateway
		t.Errorf("%d critical events, want 5", critical)
	}
}

func TestAlertConfigurationErrors(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		env  map[string]string
		says string
	}{
		{"webhook without secret", map[string]string{"ALERT_WEBHOOK_URL": "https://example.com/hook"}, "ALERT_WEBHOOK_SECRET"},
		{"slack URL not http", map[string]string{"SLACK_WEBHOOK_URL": "hooks.slack.com" + slackSecretPath}, "SLACK_WEBHOOK_URL"},
		{"bad page kind", map[string]string{"ALERT_PAGE_KINDS": "gateway_failed,nope"}, "ALERT_PAGE_KINDS"},
		{"bad min amount", map[string]string{"ALERT_PAGE_MIN_AMOUNT": "usd:lots"}, "ALERT_PAGE_MIN_AMOUNT"},
		{"bad threshold", map[string]string{"ALERT_DIGEST_THRESHOLD": "-1"}, "ALERT_DIGEST_THRESHOLD"},
		{"zero backoff", map[string]string{"ALERT_BACKOFF": "0s"}, "ALERT_BACKOFF"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range w.env {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), []string{"run"}, func(k string) string { return env[k] }, &stdout, &stderr)
			if code := exitCode(err, &stderr); code != exitUsage {
				t.Fatalf("exit %d, want 2: %v", code, err)
			}
			if !strings.Contains(stderr.String(), tt.says) || strings.Contains(stderr.String(), slackSecretPath) {
				t.Errorf("stderr: %s", stderr.String())
			}
		})
	}
}
