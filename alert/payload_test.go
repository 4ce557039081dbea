package alert_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/alert"
	"github.com/refundrecon/refundrecon/reconcile"
)

var update = flag.Bool("update", false, "rewrite the golden payloads under testdata/")

// now is the tests' clock.
var now = time.Date(2026, 3, 14, 9, 26, 53, 0, time.UTC)

func clock() time.Time { return now }

func amount(v int64) *int64 { return &v }

// failed is an opened gateway_failed case, first seen two days ago.
func failed() reconcile.Discrepancy {
	return reconcile.Discrepancy{
		ID: "dsc_0123456789abcdef01234567", Kind: reconcile.GatewayFailed, Status: reconcile.StatusOpen, New: true,
		CustomerID: "cus_failed", LedgerRefundID: "lr_failed", GatewayRefundIDs: []string{"re_failed"},
		ChargeID: "ch_failed", Currency: "usd", GatewayCurrency: "usd",
		LedgerAmount: amount(3000), GatewayAmount: amount(3000),
		GatewayStatus: reconcile.RefundFailed, FailureReason: "lost_or_stolen_card",
		Detail:      "The ledger calls refund lr_failed of USD 30.00 complete, but Stripe failed re_failed (lost_or_stolen_card).",
		FirstSeenAt: now.Add(-50 * time.Hour), LastSeenAt: now.Add(-time.Minute),
	}
}

// orphan is a missing_in_ledger case in yen, with no ledger side; its
// detail tries to mention the whole channel.
func orphan() reconcile.Discrepancy {
	return reconcile.Discrepancy{
		ID: "dsc_fedcba9876543210fedcba98", Kind: reconcile.MissingInLedger, Status: reconcile.StatusOpen,
		CustomerID: "cus_jp", GatewayRefundIDs: []string{"re_orphan"}, ChargeID: "ch_jp",
		Currency: "jpy", GatewayCurrency: "jpy", GatewayAmount: amount(120000),
		GatewayStatus: reconcile.RefundSucceeded,
		Detail:        "Stripe refund re_orphan of JPY 120000 <!channel> has no ledger refund.",
		FirstSeenAt:   now.Add(-3 * time.Minute), LastSeenAt: now.Add(-3 * time.Minute),
	}
}

// request is what a receiver got.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a local HTTP endpoint that records every request and answers
// with the statuses given, then 200 (202 for PagerDuty's taste).
type receiver struct {
	t      *testing.T
	srv    *httptest.Server
	mu     sync.Mutex
	got    []request
	answer []int
	ok     int
	header http.Header // sent with every answer
}

func newReceiver(t *testing.T, ok int, answers ...int) *receiver {
	r := &receiver{t: t, answer: answers, ok: ok, header: http.Header{}}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		if req.Method != http.MethodPost || req.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s with Content-Type %q", req.Method, req.URL, req.Header.Get("Content-Type"))
		}
		r.mu.Lock()
		r.got = append(r.got, request{header: req.Header.Clone(), body: body})
		status := r.ok
		if len(r.answer) > 0 {
			status, r.answer = r.answer[0], r.answer[1:]
		}
		r.mu.Unlock()
		for k, v := range r.header {
			w.Header()[k] = v
		}
		w.WriteHeader(status)
		_, _ = io.WriteString(w, "answer "+http.StatusText(status))
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) requests() []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]request(nil), r.got...)
}

// golden compares body, indented, with testdata/name.json.
func golden(t *testing.T, name string, body []byte) {
	t.Helper()
	var buf bytes.Buffer
	if err := json.Indent(&buf, body, "", "  "); err != nil {
		t.Fatalf("%s: the body is not JSON: %v\n%s", name, err, body)
	}
	buf.WriteByte('\n')
	path := filepath.Join("testdata", name+".json")
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test ./alert -update writes it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from %s (go test ./alert -update rewrites it):\n%s", name, path, buf.Bytes())
	}
}

func send(t *testing.T, ch alert.Channel, a reconcile.Alert) {
	t.Helper()
	if err := ch.Send(context.Background(), a); err != nil {
		t.Fatalf("send: %v", err)
	}
}

func opened(d reconcile.Discrepancy) reconcile.Alert {
	return reconcile.Alert{ID: 7, Key: d.ID + ":x:opened:1", Action: reconcile.AlertOpened, DiscrepancyID: d.ID, Cycle: 1,
		Discrepancies: []reconcile.Discrepancy{d}, RunID: "run_20260314T092600Z_0a1b2c3d", Actor: "refundrecon", CreatedAt: now}
}

// updatedByRun is the alert of a case whose kind changed.
func updatedByRun(d reconcile.Discrepancy) reconcile.Alert {
	a := opened(d)
	a.Action, a.Key = reconcile.AlertUpdated, d.ID+":x:updated:1.1"
	a.Note = "kind amount_mismatch → gateway_failed; gateway amount 2500 → 3000"
	return a
}

func resolvedByRun(d reconcile.Discrepancy) reconcile.Alert {
	d.Status = reconcile.StatusResolved
	d.New = false
	a := opened(d)
	a.Action, a.Key = reconcile.AlertResolved, d.ID+":x:resolved:1"
	return a
}

func resolvedBy(d reconcile.Discrepancy, actor, note string) reconcile.Alert {
	a := resolvedByRun(d)
	a.RunID, a.Actor, a.Note = "", actor, note
	return a
}

func TestSlackPayloads(t *testing.T) {
	r := newReceiver(t, 200)
	slack := &alert.Slack{URL: r.srv.URL + "/services/T000/B000/XXXXsecret", Rules: alert.Rules{}, Now: clock}
	cases := []struct {
		name string
		a    reconcile.Alert
	}{
		{"slack_opened", opened(failed())},
		{"slack_opened_notify", opened(orphan())},
		{"slack_resolved_run", resolvedByRun(failed())},
		{"slack_resolved_person", resolvedBy(failed(), "alice", "re-issued as re_new <@U123>")},
		{"slack_updated", updatedByRun(failed())},
	}
	for _, c := range cases {
		send(t, slack, c.a)
	}
	got := r.requests()
	if len(got) != len(cases) {
		t.Fatalf("%d requests, want %d", len(got), len(cases))
	}
	for i, c := range cases {
		golden(t, c.name, got[i].body)
		var m struct {
			Text   string           `json:"text"`
			Blocks []map[string]any `json:"blocks"`
		}
		if err := json.Unmarshal(got[i].body, &m); err != nil || m.Text == "" || len(m.Blocks) == 0 {
			t.Errorf("%s: no text fallback or no blocks: %v", c.name, err)
		}
		if strings.Contains(string(got[i].body), "<!channel>") || strings.Contains(string(got[i].body), "<@U123>") {
			t.Errorf("%s: data can mention people: %s", c.name, got[i].body)
		}
	}
	// The opened message says what matters, with money in the currency's digits.
	for _, s := range []string{"gateway_failed", "cus_failed", "USD 30.00", "lost_or_stolen_card", "2d 2h", "What to do next", "critical"} {
		if !strings.Contains(string(got[0].body), s) {
			t.Errorf("opened message lacks %q", s)
		}
	}
	if !strings.Contains(string(got[1].body), "JPY 120,000") || !strings.Contains(string(got[1].body), "warning") {
		t.Errorf("yen case: %s", got[1].body)
	}
	// The update says what changed, in one message.
	for _, s := range []string{"changed", "What changed", "amount_mismatch → gateway_failed"} {
		if !strings.Contains(string(got[4].body), s) {
			t.Errorf("updated message lacks %q", s)
		}
	}
}

func TestSlackDigest(t *testing.T) {
	r := newReceiver(t, 200)
	slack := &alert.Slack{URL: r.srv.URL, Rules: alert.Rules{}, Now: clock, DigestTop: 3}
	var ds []reconcile.Discrepancy
	for i, k := range []reconcile.Kind{reconcile.GatewayFailed, reconcile.GatewayFailed, reconcile.AmountMismatch, reconcile.MissingInLedger, reconcile.InvalidLedgerRow} {
		d := failed()
		d.Kind = k
		d.ID = "dsc_digest_" + string(rune('a'+i))
		d.CustomerID = "cus_" + string(rune('a'+i))
		d.LedgerAmount = amount(int64(1000 * (i + 1)))
		if k == reconcile.AmountMismatch {
			d.GatewayAmount = amount(1000)
		}
		if k == reconcile.MissingInLedger {
			d.LedgerAmount, d.Currency, d.GatewayCurrency, d.GatewayAmount = nil, "eur", "eur", amount(999)
		}
		ds = append(ds, d)
	}
	a := reconcile.Alert{ID: 9, Key: "run_1:slack:opened:digest", Action: reconcile.AlertOpened, Digest: true,
		Discrepancies: ds, RunID: "run_20260314T092600Z_0a1b2c3d", Actor: "refundrecon", CreatedAt: now}
	send(t, slack, a)
	a.Action, a.Key = reconcile.AlertResolved, "run_1:slack:resolved:digest"
	send(t, slack, a)
	got := r.requests()
	golden(t, "slack_digest_opened", got[0].body)
	golden(t, "slack_digest_resolved", got[1].body)
	body := string(got[0].body)
	// 1000 + 2000 + 2000 (the mismatch's difference: 3000 recorded, 1000
	// refunded) + 5000 in USD; EUR 9.99.
	for _, s := range []string{"5 refund discrepancies opened", "USD 100.00", "EUR 9.99", "`gateway_failed`: 2", "Top 3 cases", "dsc_digest_b"} {
		if !strings.Contains(body, s) {
			t.Errorf("digest lacks %q:\n%s", s, body)
		}
	}
	if strings.Contains(body, "dsc_digest_d") {
		t.Error("the digest lists more than its top 3")
	}
}

func TestPagerDutyPayloads(t *testing.T) {
	r := newReceiver(t, 202)
	pd := &alert.PagerDuty{URL: r.srv.URL + "/v2/enqueue", RoutingKey: "R0UT1NGKEY0000000000000000000000", Rules: alert.Rules{}}
	send(t, pd, opened(failed()))
	send(t, pd, opened(orphan()))
	send(t, pd, resolvedByRun(failed()))
	send(t, pd, updatedByRun(failed()))
	got := r.requests()
	golden(t, "pagerduty_trigger", got[0].body)
	golden(t, "pagerduty_trigger_warning", got[1].body)
	golden(t, "pagerduty_resolve", got[2].body)
	golden(t, "pagerduty_updated", got[3].body)
	// An update re-triggers the same incident.
	var upd struct {
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
	}
	if err := json.Unmarshal(got[3].body, &upd); err != nil || upd.EventAction != "trigger" || upd.DedupKey != failed().ID {
		t.Errorf("update event: %+v %v, want a trigger with the case id as dedup_key", upd, err)
	}

	type event struct {
		RoutingKey  string `json:"routing_key"`
		EventAction string `json:"event_action"`
		DedupKey    string `json:"dedup_key"`
		Payload     struct {
			Severity string `json:"severity"`
			Source   string `json:"source"`
		} `json:"payload"`
	}
	var ev event
	for i, want := range []struct{ action, severity string }{{"trigger", "critical"}, {"trigger", "warning"}, {"resolve", ""}} {
		ev = event{}
		if err := json.Unmarshal(got[i].body, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.EventAction != want.action || ev.Payload.Severity != want.severity || ev.RoutingKey != pd.RoutingKey {
			t.Errorf("event %d: %+v", i, ev)
		}
	}
	if ev.DedupKey != failed().ID {
		t.Errorf("resolve dedup_key %q, want the case id", ev.DedupKey)
	}
}

func TestPagerDutySeverityRules(t *testing.T) {
	rules := alert.Rules{PageKinds: []reconcile.Kind{reconcile.GatewayFailed}, PageMinAmount: map[string]int64{"": 5000, "jpy": 500000}}
	d := failed() // USD 30.00
	if got := alert.SeverityOf(rules, d); got != alert.Warning {
		t.Errorf("USD 30.00 under a 50.00 floor: %s", got)
	}
	d.LedgerAmount = amount(5000)
	if got := alert.SeverityOf(rules, d); got != alert.Critical {
		t.Errorf("USD 50.00 at the floor: %s", got)
	}
	d.Currency, d.LedgerAmount = "jpy", amount(6000)
	if got := alert.SeverityOf(rules, d); got != alert.Warning {
		t.Errorf("JPY 6000 under the yen floor: %s", got)
	}
	o := orphan()
	if got := alert.SeverityOf(alert.Rules{}, o); got != alert.Warning {
		t.Errorf("missing_in_ledger pages by default: %s", got)
	}
	for _, k := range alert.DefaultPageKinds {
		d := failed()
		d.Kind = k
		if got := alert.SeverityOf(alert.Rules{}, d); got != alert.Critical {
			t.Errorf("%s does not page by default", k)
		}
	}
	if _, err := alert.ParsePageKinds("gateway_failed,bogus"); err == nil {
		t.Error("ParsePageKinds accepts an unknown kind")
	}
	if ks, err := alert.ParsePageKinds("none"); err != nil || len(ks) != 0 {
		t.Errorf("none: %v %v", ks, err)
	}
	m, err := alert.ParseMinAmounts("5000, JPY:500000")
	if err != nil || m[""] != 5000 || m["jpy"] != 500000 {
		t.Errorf("ParseMinAmounts: %v %v", m, err)
	}
	for _, bad := range []string{"x", "usd:-1", "dollars:5", "5,6"} {
		if _, err := alert.ParseMinAmounts(bad); err == nil {
			t.Errorf("ParseMinAmounts(%q) accepted", bad)
		}
	}
}

func TestWebhookPayloadAndSignature(t *testing.T) {
	r := newReceiver(t, 204)
	secret := "whk_s3cret_for_tests"
	wh := &alert.Webhook{URL: r.srv.URL + "/hooks/refunds?token=abc", Secret: secret, Now: clock}
	send(t, wh, opened(failed()))
	send(t, wh, resolvedBy(failed(), "alice", "re-issued"))
	send(t, wh, updatedByRun(failed()))
	got := r.requests()
	golden(t, "webhook_opened", got[0].body)
	golden(t, "webhook_resolved", got[1].body)
	golden(t, "webhook_updated", got[2].body)
	if !strings.Contains(string(got[2].body), `"type":"discrepancy.updated"`) {
		t.Errorf("update body: %s", got[2].body)
	}

	for i, want := range []string{"discrepancy.opened", "discrepancy.resolved"} {
		req := got[i]
		sig := req.header.Get("Refundrecon-Signature")
		if err := alert.VerifySignature(secret, sig, req.body, 5*time.Minute, now); err != nil {
			t.Errorf("%s: %v", want, err)
		}
		if want := "t=1773480413,"; !strings.HasPrefix(sig, want) {
			t.Errorf("signature %q does not start with %q", sig, want)
		}
		if d := req.header.Get("Refundrecon-Delivery"); d == "" || (i == 1 && d == got[0].header.Get("Refundrecon-Delivery")) {
			t.Errorf("delivery ids %q", d)
		}
		// Exactly the contract's three fields, the discrepancy as the report has it.
		var body map[string]json.RawMessage
		if err := json.Unmarshal(req.body, &body); err != nil {
			t.Fatal(err)
		}
		if len(body) != 3 || string(body["type"]) != `"`+want+`"` || string(body["sent_at"]) != `"2026-03-14T09:26:53Z"` {
			t.Errorf("body: %s", req.body)
		}
		d := failed()
		if i == 1 {
			d.Status, d.New = reconcile.StatusResolved, false
		}
		report, _ := json.Marshal(d)
		if string(body["discrepancy"]) != string(report) {
			t.Errorf("discrepancy differs from the report's form:\n got  %s\n want %s", body["discrepancy"], report)
		}
	}
}

func TestVerifySignature(t *testing.T) {
	body := []byte(`{"type":"discrepancy.opened"}`)
	sig := alert.Sign("secret", now, body)
	tests := []struct {
		name   string
		secret string
		header string
		body   []byte
		now    time.Time
		ok     bool
	}{
		{"valid", "secret", sig, body, now, true},
		{"valid within tolerance", "secret", sig, body, now.Add(4 * time.Minute), true},
		{"rotated: one of two v1 matches", "secret", sig + ",v1=00ff", body, now, true},
		{"wrong secret", "other", sig, body, now, false},
		{"tampered body", "secret", sig, []byte(`{"type":"discrepancy.resolved"}`), now, false},
		{"too old", "secret", sig, body, now.Add(6 * time.Minute), false},
		{"from the future", "secret", sig, body, now.Add(-6 * time.Minute), false},
		{"no v1", "secret", "t=1773480413", body, now, false},
		{"no t", "secret", strings.SplitN(sig, ",", 2)[1], body, now, false},
		{"garbage", "secret", "sha256=abc", body, now, false},
		{"timestamp swapped", "secret", strings.Replace(sig, "t=1773480413", "t=1773480414", 1), body, now, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := alert.VerifySignature(tt.secret, tt.header, tt.body, 5*time.Minute, tt.now)
			if (err == nil) != tt.ok {
				t.Fatalf("err = %v, want ok=%v", err, tt.ok)
			}
			if err != nil && !errors.Is(err, alert.ErrSignature) {
				t.Errorf("%v does not wrap ErrSignature", err)
			}
		})
	}
}

// Errors name the receiver by scheme and host only, never the secret path,
// the routing key or the webhook secret, even when the receiver echoes them.
func TestSendErrorsHoldNoSecret(t *testing.T) {
	key := "R0UT1NGKEY_ECHOED_BACK_000000000"
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.Header().Set("Retry-After", "7")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write(body) // a receiver that quotes the request back
	}))
	defer echo.Close()
	closed := httptest.NewServer(http.NotFoundHandler())
	closedURL := closed.URL
	closed.Close()

	slackPath := "/services/T000/B000/SLACKSECRETPATH"
	chans := []alert.Channel{
		&alert.PagerDuty{URL: echo.URL, RoutingKey: key, Rules: alert.Rules{}},
		&alert.Slack{URL: closedURL + slackPath, Rules: alert.Rules{}, Now: clock},
		&alert.Webhook{URL: "http://user:hunter2@" + strings.TrimPrefix(closedURL, "http://") + "/x?token=T0KEN", Secret: "whk_SECRET_value", Now: clock},
		&alert.Slack{URL: echo.URL + slackPath, Rules: alert.Rules{}, Now: clock},
	}
	for i, ch := range chans {
		err := ch.Send(context.Background(), opened(failed()))
		if err == nil {
			t.Fatalf("channel %d: no error", i)
		}
		for _, secret := range []string{key, "SLACKSECRETPATH", "hunter2", "T0KEN", "whk_SECRET_value"} {
			if strings.Contains(err.Error(), secret) {
				t.Errorf("channel %d: error shows %q: %v", i, secret, err)
			}
		}
		var se *alert.SendError
		if !errors.As(err, &se) {
			t.Errorf("channel %d: %T is not a *SendError", i, err)
		}
		if i == 0 && (se.StatusCode != 429 || se.RetryAfter != 7*time.Second) {
			t.Errorf("429: %+v", se)
		}
	}
	if got := alert.RedactURL("https://hooks.slack.com/services/T/B/secret"); got != "https://hooks.slack.com/…" {
		t.Errorf("RedactURL: %q", got)
	}
}

// A receiver that does not answer is cut off by the context's deadline.
func TestSendHonoursContext(t *testing.T) {
	hang := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(hang)
	// The receiver answers only when the test ends: a send that outlived
	// its context would not return (go test's timeout fails it), so the
	// test needs no bound of its own on how fast the send gives up.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	err := (&alert.Webhook{URL: srv.URL, Secret: "s", Now: clock}).Send(ctx, opened(failed()))
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want a deadline", err)
	}
}
