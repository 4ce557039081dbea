package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
)

// testKey is long enough that the fake would quote its last four characters.
const testKey = "sk_test_51HxTESTKEYabcdefghijklmnopqrstuvwxyzWXYZ"

// logBuffer collects log lines from concurrent writers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testGateway builds a gateway against baseURL with a fast, recorded backoff
// and a debug logger whose output must never hold the key. mod adjusts the
// config before New.
func testGateway(t *testing.T, baseURL string, mod func(*Config)) (*Stripe, *logBuffer) {
	t.Helper()
	logs := &logBuffer{}
	cfg := Config{
		APIKey:         testKey,
		URL:            baseURL,
		MaxRPS:         1000,
		RequestTimeout: 2 * time.Second,
		Logger:         slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		retryWait:      func(int, time.Duration) time.Duration { return time.Millisecond },
	}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() {
		if out := logs.String(); strings.Contains(out, cfg.APIKey) {
			t.Errorf("the API key appears in the logs:\n%s", out)
		}
	})
	return s, logs
}

func TestNewDefaults(t *testing.T) {
	s, err := New(Config{APIKey: "rk_live_abc"})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	tr := s.transport()
	if s.metadataKey != "ledger_refund_id" || s.concurrency != 4 || tr.maxAttempts != 6 ||
		tr.timeout != 30*time.Second || tr.limiter.Limit() != 20 || tr.limiter.Burst() != 1 {
		t.Errorf("defaults: metadata key %q, concurrency %d, attempts %d, timeout %v, rps %v, burst %d",
			s.metadataKey, s.concurrency, tr.maxAttempts, tr.timeout, tr.limiter.Limit(), tr.limiter.Burst())
	}
	if got := s.apiBackendURL(); got != DefaultURL {
		t.Errorf("URL = %q, want %q", got, DefaultURL)
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	for name, cfg := range map[string]Config{
		"empty key":       {},
		"publishable key": {APIKey: "pk_test_secretvalue123"},
		"no prefix":       {APIKey: "secretvalue123"},
		"key with space":  {APIKey: "sk_test_secret value123"},
		"bad scheme":      {APIKey: testKey, URL: "ftp://user:hunter2pass@example.com"},
		"no host":         {APIKey: testKey, URL: "http://"},
		"not a URL":       {APIKey: testKey, URL: "http://user:hunter2pass@[::1"},
		"negative rps":    {APIKey: testKey, MaxRPS: -1},
		"zero conc":       {APIKey: testKey, Concurrency: -1},
		"too much conc":   {APIKey: testKey, Concurrency: MaxConcurrency + 1},
		"neg timeout":     {APIKey: testKey, RequestTimeout: -time.Second},
		"neg attempts":    {APIKey: testKey, MaxAttempts: -2},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := New(cfg)
			if !errors.Is(err, reconcile.ErrConfig) {
				t.Fatalf("New = %v, want an error wrapping ErrConfig", err)
			}
			for _, secret := range []string{"secretvalue123", "secret value123", testKey, "hunter2pass"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q quotes a secret", err)
				}
			}
		})
	}
}

func TestWindowAndSplit(t *testing.T) {
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		since, until time.Time
		lo, hi       int64
		ok           bool
	}{
		{base.Add(500 * time.Millisecond), base.Add(10*time.Second + 900*time.Millisecond), base.Unix(), base.Unix() + 10, true},
		{base, base, base.Unix(), base.Unix(), true},
		{time.Time{}, base, 0, base.Unix(), true},
		{base.Add(time.Second), base, 0, 0, false},
		{time.Time{}, time.Unix(0, 0), 0, 0, false},
	} {
		lo, hi, ok := window(c.since, c.until)
		if ok != c.ok || ok && (lo != c.lo || hi != c.hi) {
			t.Errorf("window(%v, %v) = %d, %d, %v; want %d, %d, %v", c.since, c.until, lo, hi, ok, c.lo, c.hi, c.ok)
		}
	}
	for _, c := range []struct {
		lo, hi int64
		k      int
	}{{0, 0, 4}, {10, 12, 4}, {10, 13, 4}, {100, 1000, 4}, {0, 1 << 40, 64}, {5, 1005, 1}, {7, 8, 3}} {
		spans := split(c.lo, c.hi, c.k)
		if len(spans) > c.k || len(spans) == 0 {
			t.Fatalf("split(%d, %d, %d): %d spans", c.lo, c.hi, c.k, len(spans))
		}
		// Every second of [lo, hi] must be in exactly one span.
		next := c.lo
		for i, sp := range spans {
			if sp.gte != next {
				t.Fatalf("split(%d, %d, %d): span %d starts at %d, want %d", c.lo, c.hi, c.k, i, sp.gte, next)
			}
			if sp.last != (i == len(spans)-1) {
				t.Fatalf("split(%d, %d, %d): span %d last=%v", c.lo, c.hi, c.k, i, sp.last)
			}
			if sp.last {
				if sp.end != c.hi || sp.end < sp.gte {
					t.Fatalf("split(%d, %d, %d): last span %+v", c.lo, c.hi, c.k, sp)
				}
			} else if sp.end <= sp.gte {
				t.Fatalf("split(%d, %d, %d): empty span %+v", c.lo, c.hi, c.k, sp)
			}
			next = sp.end
		}
	}
}

func TestClassify(t *testing.T) {
	for path, want := range map[string]endpoint{
		"/v1/refunds":              endpointListRefunds,
		"/v1/refunds/re_1":         endpointRetrieveRefund,
		"/base/v1/refunds/re_1":    endpointRetrieveRefund,
		"/v1/refunds/re_1/cancel":  endpointOther,
		"/v1/charges":              endpointListCharges,
		"/v1/charges/ch_1":         endpointOther,
		"/v1/balance_transactions": endpointListBalanceTransactions,
		"/v1/events":               endpointOther,
		"/healthz":                 endpointOther,
	} {
		if got := classify(path); got != want {
			t.Errorf("classify(%q) = %d, want %d", path, got, want)
		}
	}
}

func TestDefaultWait(t *testing.T) {
	for attempt := 1; attempt <= 40; attempt++ {
		d := defaultWait(attempt, 0)
		full := min(baseBackoff<<min(attempt-1, 15), maxBackoff)
		if d < full/2 || d > full {
			t.Errorf("defaultWait(%d, 0) = %v, want within [%v, %v]", attempt, d, full/2, full)
		}
	}
	if d := defaultWait(1, 3*time.Second); d < 3*time.Second || d > 3300*time.Millisecond {
		t.Errorf("defaultWait(1, 3s) = %v, want Retry-After honoured (3s to 3.3s)", d)
	}
	h := http.Header{}
	for v, want := range map[string]time.Duration{
		"": 0, "2": 2 * time.Second, "0.5": 500 * time.Millisecond, "-3": 0, "0": 0, "NaN": 0,
		"3600": maxRetryAfter, "soon": 0,
		time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat): 0,
	} {
		h.Set("Retry-After", v)
		if got := retryAfter(h); got != want {
			t.Errorf("retryAfter(%q) = %v, want %v", v, got, want)
		}
	}
}

// TestReadOnly sends a write through the real stripe-go client: the
// transport must refuse it before anything reaches the server.
func TestReadOnly(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	s, _ := testGateway(t, srv.URL, nil)

	_, err := s.api.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_1")})
	if !errors.Is(err, errReadOnly) {
		t.Errorf("creating a refund: %v, want errReadOnly", err)
	}
	for _, m := range []string{http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch, http.MethodHead} {
		req := httptest.NewRequest(m, srv.URL+"/v1/refunds", strings.NewReader("amount=1"))
		req.RequestURI = ""
		if resp, err := s.transport().RoundTrip(req); !errors.Is(err, errReadOnly) || resp != nil {
			t.Errorf("%s: %v, %v; want errReadOnly", m, resp, err)
		}
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("the server got %d requests, want none", n)
	}
}

// TestNonStripeErrorBodies checks error answers that are not Stripe's JSON
// (a proxy's page, a bare 401): a refusal is still a refusal, but a 404
// page is a failed request, never "this refund does not exist".
func TestNonStripeErrorBodies(t *testing.T) {
	var status atomic.Int64
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, "<html><body>nope "+testKey+"</body></html>")
	}))
	defer srv.Close()
	s, _ := testGateway(t, srv.URL, func(c *Config) { c.MaxAttempts = 2 })
	ctx := context.Background()

	status.Store(401)
	_, err := s.Refund(ctx, "re_1")
	if !errors.Is(err, reconcile.ErrUnauthorized) || strings.Contains(err.Error(), testKey) {
		t.Errorf("401 with an HTML body: %v, want ErrUnauthorized without the key", err)
	}
	// A proxy's 404 page is not Stripe saying "no such refund": it is a
	// failed request, retried, never ErrNotFound.
	status.Store(404)
	hits.Store(0)
	_, err = s.Refund(ctx, "re_1")
	if err == nil || errors.Is(err, reconcile.ErrNotFound) || !strings.Contains(err.Error(), "404") || strings.Contains(err.Error(), "<html>") {
		t.Errorf("404 with an HTML body: %v, want a failed request naming 404, not ErrNotFound", err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("404 with an HTML body: %d attempts, want MaxAttempts=2", n)
	}
	status.Store(502)
	hits.Store(0)
	_, err = s.Refund(ctx, "re_1")
	if err == nil || !strings.Contains(err.Error(), "502") || strings.Contains(err.Error(), "<html>") {
		t.Errorf("502 with an HTML body: %v, want an error naming 502 without the page", err)
	}
	if n := hits.Load(); n != 2 {
		t.Errorf("502: %d attempts, want MaxAttempts=2", n)
	}
}

// TestTruncatedBodyRetried: a body cut short (Content-Length not reached) is
// a network error of that attempt, retried.
func TestTruncatedBodyRetried(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := `{"id":"re_1","object":"refund","amount":100,"currency":"usd","status":"succeeded","created":1700000000,"charge":"ch_1"}`
		w.Header().Set("Content-Type", "application/json")
		if hits.Add(1) == 1 {
			w.Header().Set("Content-Length", fmt.Sprint(len(body)))
			fmt.Fprint(w, body[:20]) // the server closes the connection short
			return
		}
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	s, _ := testGateway(t, srv.URL, nil)
	r, err := s.Refund(context.Background(), "re_1")
	if err != nil || r.ID != "re_1" || r.ChargeID != "ch_1" || r.Amount != 100 {
		t.Fatalf("Refund = %+v, %v", r, err)
	}
	if st := s.Stats(); st.NetworkErrors != 1 || st.Retries != 1 || st.Attempts != 2 || st.RetrieveRefundRequests != 1 {
		t.Errorf("stats %+v, want one network error retried once", st)
	}
}

func TestLoggerBridge(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if hits.Add(1) == 1 {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"error":{"type":"api_error","message":"try later"}}`)
			return
		}
		fmt.Fprint(w, `{"id":"re_1","object":"refund","status":"succeeded","created":1700000000,"metadata":{"secret_note":"customer-pii"}}`)
	}))
	defer srv.Close()
	s, logs := testGateway(t, srv.URL, nil)
	if _, err := s.Refund(context.Background(), "re_1"); err != nil {
		t.Fatal(err)
	}
	out := logs.String()
	for _, want := range []string{"level=DEBUG", "component=stripe-go", "Requesting GET", "level=WARN", `msg="stripe request retried"`, "status=503"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs lack %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "customer-pii") {
		t.Errorf("logs dump a response body:\n%s", out)
	}

	// A nil logger discards, and an info-level logger skips stripe-go's chatter.
	var quiet logBuffer
	for _, l := range []*slog.Logger{nil, slog.New(slog.NewTextHandler(&quiet, nil))} {
		s, err := New(Config{APIKey: testKey, URL: srv.URL, Logger: l})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Refund(context.Background(), "re_1"); err != nil {
			t.Fatal(err)
		}
	}
	if quiet.String() != "" {
		t.Errorf("info-level logger got %q", quiet.String())
	}
}

func TestConvert(t *testing.T) {
	s := &Stripe{metadataKey: "order_refund", stats: &counters{}}
	created := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	for name, c := range map[string]struct {
		in   *stripe.Refund
		want reconcile.GatewayRefund
	}{
		"expanded charge": {
			&stripe.Refund{ID: "re_1", Amount: 4500, Currency: "USD", Status: "failed", FailureReason: "expired_or_canceled_card",
				Metadata: map[string]string{"order_refund": "lr_1", "ledger_refund_id": "other"}, Created: created.Unix(),
				Charge: &stripe.Charge{ID: "ch_1", Customer: &stripe.Customer{ID: "cus_1"}, PaymentIntent: &stripe.PaymentIntent{ID: "pi_c"}}},
			reconcile.GatewayRefund{ID: "re_1", ChargeID: "ch_1", PaymentIntentID: "pi_c", CustomerID: "cus_1", Amount: 4500,
				Currency: "usd", Status: reconcile.RefundFailed, FailureReason: "expired_or_canceled_card", LedgerRefundID: "lr_1", Created: created},
		},
		"refund's own payment intent wins": {
			&stripe.Refund{ID: "re_2", Status: "requires_action", Created: created.Unix(), PaymentIntent: &stripe.PaymentIntent{ID: "pi_r"},
				Charge: &stripe.Charge{ID: "ch_2", PaymentIntent: &stripe.PaymentIntent{ID: "pi_c"}}},
			reconcile.GatewayRefund{ID: "re_2", ChargeID: "ch_2", PaymentIntentID: "pi_r", Status: reconcile.RefundRequiresAction, Created: created},
		},
		"charge not expanded": {
			&stripe.Refund{ID: "re_3", Status: "weird_new_status", Currency: "xof", Created: created.Unix(), Charge: &stripe.Charge{ID: "ch_3"}},
			reconcile.GatewayRefund{ID: "re_3", ChargeID: "ch_3", Currency: "xof", Status: "weird_new_status", Created: created},
		},
	} {
		got, err := s.convert(c.in)
		if err != nil || got != c.want {
			t.Errorf("%s: convert = %+v, %v\nwant %+v", name, got, err, c.want)
		}
	}
	if _, err := s.convert(&stripe.Refund{}); err == nil {
		t.Error("a refund without id converted")
	}
	if got := s.Stats().RefundsDecoded; got != 3 {
		t.Errorf("RefundsDecoded = %d, want 3", got)
	}
	// Interning: a decoded "usd" comes back as the shared constant.
	if got := currency(strings.Clone("usd")); unsafe.StringData(got) != unsafe.StringData("usd") {
		t.Error("currency does not intern usd")
	}
}

func BenchmarkConvert(b *testing.B) {
	s := &Stripe{metadataKey: DefaultMetadataKey, stats: &counters{}}
	r := &stripe.Refund{ID: "re_1", Amount: 4500, Currency: "usd", Status: "succeeded", Created: 1700000000,
		Metadata: map[string]string{DefaultMetadataKey: "lr_1"},
		Charge:   &stripe.Charge{ID: "ch_1", Customer: &stripe.Customer{ID: "cus_1"}, PaymentIntent: &stripe.PaymentIntent{ID: "pi_1"}}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.convert(r); err != nil {
			b.Fatal(err)
		}
	}
}

// transport digs the adapter's transport out of its stripe-go backend.
func (s *Stripe) transport() *transport {
	return s.api.Refunds.B.(*stripe.BackendImplementation).HTTPClient.Transport.(*transport)
}

func (s *Stripe) apiBackendURL() string {
	return s.api.Refunds.B.(*stripe.BackendImplementation).URL
}
