package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/refundrecon/refundrecon/reconcile"
)

// memStore is an in-memory Store that records the reviews it is asked for.
type memStore struct {
	mu      sync.Mutex
	ds      []reconcile.Discrepancy
	pingErr error
	reviews []string // "verb id actor note"
	filters []reconcile.CaseFilter
	history map[string][]reconcile.CaseEvent
	runs    reconcile.RunList
}

func (m *memStore) Ping(context.Context) error { return m.pingErr }

// selected returns the cases f selects, in the memStore's order.
func (m *memStore) selected(f reconcile.CaseFilter) []reconcile.Discrepancy {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.filters = append(m.filters, f)
	var out []reconcile.Discrepancy
	for _, d := range m.ds {
		if len(f.Statuses) > 0 && !slices.Contains(f.Statuses, d.Status) || len(f.Kinds) > 0 && !slices.Contains(f.Kinds, d.Kind) ||
			f.CustomerID != "" && d.CustomerID != f.CustomerID {
			continue
		}
		if f.Query != "" && !slices.ContainsFunc(append([]string{d.ID, d.LedgerRefundID, d.CustomerID}, d.GatewayRefundIDs...),
			func(id string) bool { return strings.HasPrefix(id, f.Query) }) {
			continue
		}
		out = append(out, d)
	}
	return out
}

// Cases pages by position: the store suite tests the real keyset cursor;
// here the handler's passing of limit and cursor is what is tested.
func (m *memStore) Cases(_ context.Context, f reconcile.CaseFilter) (reconcile.CasePage, error) {
	all := m.selected(f)
	from := 0
	if f.Cursor != "" {
		n, err := fmt.Sscanf(f.Cursor, "at:%d", &from)
		if n != 1 || err != nil {
			return reconcile.CasePage{}, fmt.Errorf("bad cursor: %w", reconcile.ErrInvalid)
		}
	}
	from = min(from, len(all))
	to := min(from+f.PageLimit(), len(all))
	page := reconcile.CasePage{Cases: all[from:to]}
	if to < len(all) {
		page.NextCursor = fmt.Sprintf("at:%d", to)
	}
	return page, nil
}

func (m *memStore) Discrepancy(_ context.Context, id string) (reconcile.Discrepancy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, d := range m.ds {
		if d.ID == id {
			return d, nil
		}
	}
	return reconcile.Discrepancy{}, fmt.Errorf("discrepancy %s: %w", id, reconcile.ErrNotFound)
}

func (m *memStore) History(_ context.Context, id string) ([]reconcile.CaseEvent, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.history[id], nil
}

func (m *memStore) Runs(_ context.Context, limit int) (reconcile.RunList, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.runs[:min(limit, len(m.runs))], nil
}

func (m *memStore) review(verb, id, actor, note string, to reconcile.Status) (reconcile.Discrepancy, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for i := range m.ds {
		d := &m.ds[i]
		if d.ID != id {
			continue
		}
		if d.Status == reconcile.StatusResolved || d.Status == to {
			return *d, fmt.Errorf("%s %s: %w", verb, id, reconcile.ErrConflict)
		}
		if verb == "resolve" && note == "" {
			return *d, fmt.Errorf("resolve %s: a note is required: %w", id, reconcile.ErrInvalid)
		}
		d.Status = to
		m.reviews = append(m.reviews, strings.Join([]string{verb, id, actor, note}, " "))
		return *d, nil
	}
	return reconcile.Discrepancy{}, fmt.Errorf("%s %s: %w", verb, id, reconcile.ErrNotFound)
}

func (m *memStore) Acknowledge(_ context.Context, id, actor, note string) (reconcile.Discrepancy, error) {
	return m.review("ack", id, actor, note, reconcile.StatusAcknowledged)
}

func (m *memStore) Resolve(_ context.Context, id, actor, note string) (reconcile.Discrepancy, error) {
	return m.review("resolve", id, actor, note, reconcile.StatusResolved)
}

func amount(n int64) *int64 { return &n }

func sampleCases() []reconcile.Discrepancy {
	return []reconcile.Discrepancy{
		{ID: "dsc_1", Kind: reconcile.GatewayFailed, Status: reconcile.StatusOpen, CustomerID: "cus_1", LedgerRefundID: "lr_1",
			GatewayRefundIDs: []string{"re_1"}, Currency: "usd", LedgerAmount: amount(4500), GatewayAmount: amount(4500), Detail: "failed"},
		{ID: "dsc_2", Kind: reconcile.MissingInLedger, Status: reconcile.StatusAcknowledged, CustomerID: "cus_2",
			GatewayRefundIDs: []string{"re_2"}, Currency: "eur", GatewayCurrency: "eur", GatewayAmount: amount(700), Detail: "orphan"},
		{ID: "dsc_3", Kind: reconcile.GatewayFailed, Status: reconcile.StatusResolved, CustomerID: "cus_1", LedgerRefundID: "lr_3",
			GatewayRefundIDs: []string{}, Currency: "usd", LedgerAmount: amount(100), Detail: "old"},
		{ID: "dsc_4", Kind: reconcile.AmountMismatch, Status: reconcile.StatusOpen, CustomerID: "cus_3", LedgerRefundID: "lr_4",
			GatewayRefundIDs: []string{"re_4"}, Currency: "usd", LedgerAmount: amount(5000), GatewayAmount: amount(4500), Detail: "amount"},
	}
}

type harness struct {
	srv      *Server
	store    *memStore
	logs     *bytes.Buffer
	checks   []string
	checkErr error
	queued   []reconcile.RefundEvent
	queueOK  bool
}

func newHarness(t *testing.T, tokens ...reconcile.Token) *harness {
	h := &harness{store: &memStore{ds: sampleCases()}, logs: &bytes.Buffer{}, queueOK: true}
	log := slog.New(slog.NewJSONHandler(h.logs, nil))
	m := NewMetrics(MetricsConfig{
		Unresolved: func(ctx context.Context) ([]reconcile.Discrepancy, error) {
			return h.store.selected(reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged}}), nil
		},
		Stripe: func() StripeStats {
			return StripeStats{Requests: map[string]int64{"list_refunds": 7, "list_charges": 2}, Attempts: 10, Retries: 1, RateLimited: 1, LimiterWait: 1500 * time.Millisecond}
		},
		Logger: log,
	})
	h.srv = New(Config{
		Store: h.store,
		Check: func(ctx context.Context, customerID string) (reconcile.Report, error) {
			h.checks = append(h.checks, customerID)
			now := time.Date(2026, 5, 1, 2, 0, 0, 0, time.UTC)
			rep := reconcile.Report{Run: reconcile.Run{ID: "run_x", Scope: reconcile.Scope{Until: now, CustomerID: customerID},
				StartedAt: now, FinishedAt: now.Add(time.Second), Status: reconcile.RunSucceeded}}
			if errors.Is(h.checkErr, reconcile.ErrLocked) {
				return reconcile.Report{}, h.checkErr
			}
			if h.checkErr != nil {
				rep.Run.Status, rep.Run.Error = reconcile.RunFailed, h.checkErr.Error()
			}
			return rep, h.checkErr
		},
		Webhook: func(payload []byte, signature string) (reconcile.RefundEvent, bool, error) {
			switch signature {
			case "good":
				return reconcile.RefundEvent{ID: "evt_1", Type: "charge.refund.updated", RefundID: "re_1", ChargeID: "ch_1"}, true, nil
			case "other-type":
				return reconcile.RefundEvent{ID: "evt_2", Type: "customer.created"}, false, nil
			}
			return reconcile.RefundEvent{}, false, errors.New("no valid signature")
		},
		Recheck: func(ev reconcile.RefundEvent) Enqueued {
			if !h.queueOK {
				return Dropped
			}
			h.queued = append(h.queued, ev)
			return Queued
		},
		Tokens:  tokens,
		Metrics: m,
		Logger:  log,
	})
	return h
}

var alice = reconcile.Token{Name: "alice", Value: "tok_alice_0123456789abcdef", Role: reconcile.RoleFinance}

func (h *harness) do(method, path, token, body string, header ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.srv.ServeHTTP(rec, req)
	return rec
}

func jsonBody(t *testing.T, rec *httptest.ResponseRecorder) map[string]any {
	t.Helper()
	var v map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("%d: body is not JSON: %v\n%s", rec.Code, err, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		t.Errorf("content type %q", ct)
	}
	return v
}

func TestHealthAndReadiness(t *testing.T) {
	h := newHarness(t)
	if rec := h.do("GET", "/healthz", "", ""); rec.Code != 200 {
		t.Fatalf("healthz %d", rec.Code)
	}
	if rec := h.do("GET", "/readyz", "", ""); rec.Code != 200 {
		t.Fatalf("readyz %d", rec.Code)
	}
	h.store.pingErr = errors.New("dial tcp db.internal:5432: connection refused")
	rec := h.do("GET", "/readyz", "", "")
	if rec.Code != http.StatusServiceUnavailable || strings.Contains(rec.Body.String(), "db.internal") {
		t.Fatalf("readyz with the database down: %d %s", rec.Code, rec.Body)
	}
}

func TestRoutesAnswerJSONErrors(t *testing.T) {
	h := newHarness(t, alice)
	for _, tc := range []struct {
		method, path string
		code         int
	}{
		{"GET", "/", 404},      // without Config.Page, the finance page is not served
		{"GET", "/login", 404}, // nor its login
		{"GET", "/api/nope", 404},
		{"GET", "/webhooks/stripe", 405},
		{"DELETE", "/api/discrepancies", 405},
		{"GET", "/api/discrepancies/dsc_1/ack", 405},
		{"POST", "/healthz", 405},
	} {
		rec := h.do(tc.method, tc.path, alice.Value, "")
		if rec.Code != tc.code {
			t.Errorf("%s %s: %d, want %d", tc.method, tc.path, rec.Code, tc.code)
			continue
		}
		if v := jsonBody(t, rec); v["error"] == nil {
			t.Errorf("%s %s: no error field: %v", tc.method, tc.path, v)
		}
	}
}

func TestAPIAuth(t *testing.T) {
	h := newHarness(t, alice, reconcile.Token{Name: "bob", Value: "tok_bob_ffffffffffffffff", Role: reconcile.RoleViewer})
	for _, tc := range []struct{ name, auth string }{
		{"none", ""},
		{"wrong", "Bearer tok_alice_0123456789abcdeX"},
		{"prefix of a token", "Bearer tok_alice"},
		{"basic", "Basic " + alice.Value},
		{"empty bearer", "Bearer "},
	} {
		for _, route := range []struct{ method, path string }{
			{"GET", "/api/discrepancies"}, {"POST", "/api/customers/cus_1/reconcile"},
			{"POST", "/api/discrepancies/dsc_1/ack"}, {"POST", "/api/discrepancies/dsc_1/resolve"},
		} {
			rec := h.do(route.method, route.path, "", `{"note":"x"}`, "Authorization", tc.auth)
			if rec.Code != http.StatusUnauthorized || rec.Header().Get("WWW-Authenticate") == "" {
				t.Errorf("%s: %s %s: %d", tc.name, route.method, route.path, rec.Code)
			}
		}
	}
	if len(h.checks) != 0 || len(h.store.reviews) != 0 {
		t.Fatalf("unauthenticated requests did work: %v %v", h.checks, h.store.reviews)
	}
	if rec := h.do("GET", "/api/discrepancies", "tok_bob_ffffffffffffffff", ""); rec.Code != 200 {
		t.Fatalf("second token refused: %d", rec.Code)
	}

	// No token configured: the API refuses everything, and says why.
	h = newHarness(t)
	rec := h.do("GET", "/api/discrepancies", "anything", "")
	if rec.Code != http.StatusUnauthorized || !strings.Contains(rec.Body.String(), "API_TOKENS") {
		t.Fatalf("no tokens: %d %s", rec.Code, rec.Body)
	}
}

func TestListDiscrepancies(t *testing.T) {
	h := newHarness(t, alice)
	ids := func(query string) ([]string, int) {
		t.Helper()
		rec := h.do("GET", "/api/discrepancies"+query, alice.Value, "")
		if rec.Code != 200 {
			return nil, rec.Code
		}
		var body struct {
			Discrepancies []map[string]any `json:"discrepancies"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Discrepancies == nil {
			t.Fatalf("%s: %v %s", query, err, rec.Body)
		}
		var out []string
		for _, d := range body.Discrepancies {
			for _, f := range []string{"id", "kind", "status", "new", "customer_id", "ledger_refund_id", "gateway_refund_ids",
				"charge_id", "currency", "ledger_amount", "gateway_amount", "gateway_status", "failure_reason", "detail",
				"first_seen_at", "last_seen_at"} {
				if _, ok := d[f]; !ok {
					t.Errorf("%s lacks %s", d["id"], f)
				}
			}
			out = append(out, d["id"].(string))
		}
		return out, 200
	}
	for _, tc := range []struct {
		query string
		want  []string
		code  int
	}{
		{"", []string{"dsc_1", "dsc_2", "dsc_4"}, 200},
		{"?status=resolved", []string{"dsc_3"}, 200},
		{"?status=open", []string{"dsc_1", "dsc_4"}, 200},
		{"?status=open,resolved", []string{"dsc_1", "dsc_3", "dsc_4"}, 200},
		{"?status=open&status=acknowledged", []string{"dsc_1", "dsc_2", "dsc_4"}, 200},
		{"?status=all", []string{"dsc_1", "dsc_2", "dsc_3", "dsc_4"}, 200},
		{"?status=all&kind=gateway_failed", []string{"dsc_1", "dsc_3"}, 200},
		{"?customer_id=cus_1", []string{"dsc_1"}, 200},
		{"?customer_id=cus_nobody", nil, 200},
		{"?status=closed", nil, 400},
		{"?kind=gateway_exploded", nil, 400},
	} {
		got, code := ids(tc.query)
		if code != tc.code || !slices.Equal(got, tc.want) {
			t.Errorf("%q: %d %v, want %d %v", tc.query, code, got, tc.code, tc.want)
		}
	}
}

func TestReviewRecordsTheTokenName(t *testing.T) {
	h := newHarness(t, alice)
	rec := h.do("POST", "/api/discrepancies/dsc_1/ack", alice.Value, `{"note": "calling the customer"}`)
	if rec.Code != 200 || jsonBody(t, rec)["status"] != "acknowledged" {
		t.Fatalf("ack: %d %s", rec.Code, rec.Body)
	}
	rec = h.do("POST", "/api/discrepancies/dsc_1/resolve", alice.Value, `{"note": "refunded by bank transfer"}`)
	if rec.Code != 200 || jsonBody(t, rec)["status"] != "resolved" {
		t.Fatalf("resolve: %d %s", rec.Code, rec.Body)
	}
	want := []string{"ack dsc_1 alice calling the customer", "resolve dsc_1 alice refunded by bank transfer"}
	if !slices.Equal(h.store.reviews, want) {
		t.Fatalf("reviews %q, want %q", h.store.reviews, want)
	}
	for _, tc := range []struct {
		path, body string
		code       int
	}{
		{"/api/discrepancies/dsc_nope/ack", `{}`, 404},
		{"/api/discrepancies/dsc_1/ack", `{}`, 409},          // resolved already
		{"/api/discrepancies/dsc_4/resolve", `{}`, 400},      // a note is required
		{"/api/discrepancies/dsc_4/ack", `{"nots": 1}`, 400}, // unknown field
		{"/api/discrepancies/dsc_4/ack", `not json`, 400},
		{"/api/discrepancies/dsc_4/ack", `{"note":"` + strings.Repeat("x", 70<<10) + `"}`, 413},
	} {
		if rec := h.do("POST", tc.path, alice.Value, tc.body); rec.Code != tc.code {
			t.Errorf("%s %.20s: %d, want %d: %s", tc.path, tc.body, rec.Code, tc.code, rec.Body)
		}
	}
	// An empty body acknowledges without a note.
	if rec := h.do("POST", "/api/discrepancies/dsc_4/ack", alice.Value, ""); rec.Code != 200 {
		t.Fatalf("ack without body: %d %s", rec.Code, rec.Body)
	}
}

func TestReconcileCustomer(t *testing.T) {
	h := newHarness(t, alice)
	rec := h.do("POST", "/api/customers/cus_1/reconcile", alice.Value, "")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	rep := jsonBody(t, rec)
	if rep["run_id"] != "run_x" || rep["status"] != "succeeded" || rep["scope"].(map[string]any)["customer_id"] != "cus_1" {
		t.Fatalf("report %v", rep)
	}
	if _, ok := rep["discrepancies"].([]any); !ok {
		t.Fatalf("no discrepancies list: %v", rep)
	}

	h.checkErr = fmt.Errorf("lock reconcile is held: %w", reconcile.ErrLocked)
	rec = h.do("POST", "/api/customers/cus_1/reconcile", alice.Value, "")
	if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
		t.Fatalf("locked: %d %v", rec.Code, rec.Header())
	}
	h.checkErr = errors.New("list stripe charges: stripe answered 500")
	rec = h.do("POST", "/api/customers/cus_1/reconcile", alice.Value, "")
	if v := jsonBody(t, rec); rec.Code != http.StatusBadGateway || v["status"] != "failed" || v["error"] == nil {
		t.Fatalf("failed run: %d %v", rec.Code, v)
	}
	if rec := h.do("POST", "/api/customers/cus%20x/reconcile", alice.Value, ""); rec.Code != 400 {
		t.Fatalf("id with a space: %d", rec.Code)
	}
}

func TestStripeWebhookEndpoint(t *testing.T) {
	h := newHarness(t, alice)
	// No token needed: the signature authenticates.
	if rec := h.do("POST", "/webhooks/stripe", "", `{}`, "Stripe-Signature", "good"); rec.Code != 200 || len(h.queued) != 1 || h.queued[0].RefundID != "re_1" {
		t.Fatalf("good event: %d %v", rec.Code, h.queued)
	}
	if rec := h.do("POST", "/webhooks/stripe", "", `{}`, "Stripe-Signature", "other-type"); rec.Code != 200 || len(h.queued) != 1 {
		t.Fatalf("other type: %d %v", rec.Code, h.queued)
	}
	for _, sig := range []string{"", "t=1,v1=bad"} {
		if rec := h.do("POST", "/webhooks/stripe", "", `{}`, "Stripe-Signature", sig); rec.Code != 400 || jsonBody(t, rec)["error"] == nil {
			t.Fatalf("signature %q: %d", sig, rec.Code)
		}
	}
	if rec := h.do("POST", "/webhooks/stripe", "", strings.Repeat("x", MaxWebhookBody+1), "Stripe-Signature", "good"); rec.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("huge body: %d", rec.Code)
	}
	if len(h.queued) != 1 {
		t.Fatalf("refused webhooks queued work: %v", h.queued)
	}
	h.queueOK = false
	if rec := h.do("POST", "/webhooks/stripe", "", `{}`, "Stripe-Signature", "good"); rec.Code != http.StatusServiceUnavailable {
		t.Fatalf("full queue: %d", rec.Code)
	}

	noSecret := New(Config{Store: h.store})
	rec := httptest.NewRecorder()
	noSecret.ServeHTTP(rec, httptest.NewRequest("POST", "/webhooks/stripe", strings.NewReader("{}")))
	if rec.Code != http.StatusServiceUnavailable || !strings.Contains(rec.Body.String(), "STRIPE_WEBHOOK_SECRET") {
		t.Fatalf("without a secret: %d %s", rec.Code, rec.Body)
	}
}

func TestMetrics(t *testing.T) {
	h := newHarness(t, alice)
	now := time.Now().UTC()
	h.srv.cfg.Metrics.ObserveRun(context.Background(), reconcile.Report{Run: reconcile.Run{ID: "r1", Status: reconcile.RunSucceeded,
		StartedAt: now.Add(-3 * time.Second), FinishedAt: now}})
	h.srv.cfg.Metrics.ObserveRun(context.Background(), reconcile.Report{Run: reconcile.Run{ID: "r2", Status: reconcile.RunFailed,
		Scope: reconcile.Scope{CustomerID: "cus_1"}, StartedAt: now.Add(-time.Second), FinishedAt: now}})
	h.srv.cfg.Metrics.RunSkipped("done")
	h.do("GET", "/healthz", "", "")

	rec := h.do("GET", "/metrics", "", "")
	if rec.Code != 200 {
		t.Fatalf("metrics: %d", rec.Code)
	}
	text := rec.Body.String()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("metrics do not parse: %v\n%s", err, text)
	}
	value := func(name string, labels map[string]string) float64 {
		t.Helper()
		f, ok := families[name]
		if !ok {
			t.Fatalf("no metric %s", name)
		}
	metrics:
		for _, m := range f.GetMetric() {
			for _, l := range m.GetLabel() {
				if want, ok := labels[l.GetName()]; ok && want != l.GetValue() {
					continue metrics
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue()
			case m.Gauge != nil:
				return m.Gauge.GetValue()
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount())
			}
		}
		t.Fatalf("no %s%v", name, labels)
		return 0
	}
	checks := []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"refundrecon_runs_total", map[string]string{"scope": "window", "status": "succeeded"}, 1},
		{"refundrecon_runs_total", map[string]string{"scope": "customer", "status": "failed"}, 1},
		{"refundrecon_runs_total", map[string]string{"scope": "window", "status": "failed"}, 0},
		{"refundrecon_run_duration_seconds", map[string]string{"scope": "window", "status": "succeeded"}, 1},
		{"refundrecon_runs_skipped_total", map[string]string{"reason": "done"}, 1},
		{"refundrecon_open_discrepancies", map[string]string{"kind": "gateway_failed"}, 1}, // the resolved one is not counted
		{"refundrecon_open_discrepancies", map[string]string{"kind": "missing_in_ledger"}, 1},
		{"refundrecon_open_discrepancies", map[string]string{"kind": "duplicate_at_gateway"}, 0},
		{"refundrecon_money_at_risk_minor_units", map[string]string{"currency": "usd"}, 4500 + 500},
		{"refundrecon_money_at_risk_minor_units", map[string]string{"currency": "eur"}, 700},
		{"refundrecon_stripe_requests_total", map[string]string{"endpoint": "list_refunds"}, 7},
		{"refundrecon_stripe_rate_limited_total", nil, 1},
		{"refundrecon_stripe_rate_limit_wait_seconds_total", nil, 1.5},
		{"refundrecon_http_requests_total", map[string]string{"route": "GET /healthz", "code": "200"}, 1},
		{"refundrecon_discrepancy_metrics_up", nil, 1},
	}
	for _, c := range checks {
		if got := value(c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	if _, ok := families["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics")
	}

	// promtool, when installed, checks the exposition and naming rules.
	promtool, err := exec.LookPath("promtool")
	if err != nil {
		t.Skip("promtool is not installed (apt-get install prometheus provides it)")
	}
	cmd := exec.Command(promtool, "check", "metrics")
	cmd.Stdin = strings.NewReader(text)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("promtool check metrics: %v\n%s", err, out)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		// The Go runtime's own metrics draw lint remarks we cannot change.
		if line != "" && strings.HasPrefix(line, "refundrecon_") {
			t.Errorf("promtool: %s", line)
		}
	}
}

func TestMetricsSurviveADatabaseError(t *testing.T) {
	m := NewMetrics(MetricsConfig{Unresolved: func(context.Context) ([]reconcile.Discrepancy, error) {
		return nil, errors.New("database gone")
	}})
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	if rec.Code != 200 || !strings.Contains(string(body), "refundrecon_discrepancy_metrics_up 0") || !strings.Contains(string(body), "refundrecon_runs_total") {
		t.Fatalf("%d\n%s", rec.Code, body)
	}
}

// Every role against every API route: viewer reads; support reads and
// checks customers; finance and admin also acknowledge and resolve. A role
// that may not is 403 and nothing is done.
func TestAPIRoles(t *testing.T) {
	routes := []struct {
		method, path string
		action       reconcile.Action
	}{
		{"GET", "/api/discrepancies", reconcile.ActionRead},
		{"POST", "/api/customers/cus_1/reconcile", reconcile.ActionCheck},
		{"POST", "/api/discrepancies/dsc_1/ack", reconcile.ActionReview},
		{"POST", "/api/discrepancies/dsc_1/resolve", reconcile.ActionReview},
	}
	allowed := map[reconcile.Role][]reconcile.Action{
		reconcile.RoleViewer:  {reconcile.ActionRead},
		reconcile.RoleSupport: {reconcile.ActionRead, reconcile.ActionCheck},
		reconcile.RoleFinance: {reconcile.ActionRead, reconcile.ActionCheck, reconcile.ActionReview},
		reconcile.RoleAdmin:   {reconcile.ActionRead, reconcile.ActionCheck, reconcile.ActionReview},
	}
	for role, may := range allowed {
		for _, rt := range routes {
			t.Run(string(role)+" "+rt.method+" "+rt.path, func(t *testing.T) {
				tok := reconcile.Token{Name: "someone", Value: "tok_someone_0123456789abcdef", Role: role}
				h := newHarness(t, tok)
				rec := h.do(rt.method, rt.path, tok.Value, `{"note":"checked with the bank"}`)
				if slices.Contains(may, rt.action) {
					if rec.Code != http.StatusOK {
						t.Fatalf("%d %s, want 200", rec.Code, rec.Body)
					}
					return
				}
				if rec.Code != http.StatusForbidden || !strings.Contains(jsonBody(t, rec)["error"].(string), string(role)) {
					t.Fatalf("%d %s, want 403 naming the role", rec.Code, rec.Body)
				}
				if len(h.checks) != 0 || len(h.store.reviews) != 0 {
					t.Fatalf("a refused request did work: %v %v", h.checks, h.store.reviews)
				}
			})
		}
	}
}

// RequireRole, for routes added beside these (the support desk's lookup),
// lets the role and those above it through and gives the handler the token.
func TestRequireRole(t *testing.T) {
	var toks []reconcile.Token
	for i, r := range reconcile.Roles {
		toks = append(toks, reconcile.Token{Name: string(r), Value: fmt.Sprintf("tok_%d_0123456789abcdef", i), Role: r})
	}
	s := New(Config{Store: &memStore{}, Tokens: toks})
	h := s.RequireRole(reconcile.RoleSupport, func(w http.ResponseWriter, r *http.Request) {
		tok, _ := TokenFrom(r.Context())
		writeJSON(w, http.StatusOK, map[string]string{"by": tok.Name})
	})
	for _, tok := range toks {
		req := httptest.NewRequest("POST", "/api/lookup", strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+tok.Value)
		rec := httptest.NewRecorder()
		h(rec, req)
		want := http.StatusOK
		if tok.Role == reconcile.RoleViewer {
			want = http.StatusForbidden
		}
		if rec.Code != want || want == 200 && !strings.Contains(rec.Body.String(), `"by":"`+tok.Name+`"`) {
			t.Errorf("%s: %d %s", tok.Role, rec.Code, rec.Body)
		}
	}
}

// The same Stripe event delivered twice queues one re-check; the second
// delivery is acknowledged (200) so Stripe stops sending it.
func TestWebhookSameEventTwiceQueuesOneRecheck(t *testing.T) {
	q := NewRechecker(RecheckConfig{})
	s := New(Config{Store: &memStore{}, Recheck: q.Enqueue,
		Webhook: func([]byte, string) (reconcile.RefundEvent, bool, error) {
			return reconcile.RefundEvent{ID: "evt_1", Type: "refund.updated", RefundID: "re_1", ChargeID: "ch_1"}, true, nil
		}})
	var bodies []string
	for range 2 {
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, httptest.NewRequest("POST", "/webhooks/stripe", strings.NewReader("{}")))
		if rec.Code != 200 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		bodies = append(bodies, rec.Body.String())
	}
	if q.Pending() != 1 || !strings.Contains(bodies[1], "duplicate") || strings.Contains(bodies[0], "duplicate") {
		t.Fatalf("pending %d, answers %q", q.Pending(), bodies)
	}
}
