package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

var day0 = time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)

// fake serves a fake Stripe accepting testKey; at the end of the test its
// request log must hold GET requests only.
func fake(t *testing.T) (*fakestripe.Server, *httptest.Server) {
	t.Helper()
	f := fakestripe.New(testKey)
	srv := httptest.NewServer(f)
	t.Cleanup(func() {
		srv.Close()
		for _, r := range f.Requests() {
			if r.Method != http.MethodGet {
				t.Errorf("the fake got %s %s: the gateway must only GET", r.Method, r.Path)
			}
		}
	})
	return f, srv
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// seed adds one charge and one refund per second over [from, from+n), the
// charges spread over seven customers; refund i is re_<tag>_i.
func seed(t *testing.T, f *fakestripe.Server, tag string, from time.Time, n int) []string {
	t.Helper()
	ids := make([]string, n)
	for i := range n {
		ch := fmt.Sprintf("ch_%s_%d", tag, i)
		must(t, f.AddCharge(fakestripe.Charge{ID: ch, Customer: fmt.Sprintf("cus_%d", i%7), PaymentIntent: "pi_" + ch[3:],
			Amount: 10_000, Currency: "usd", Created: from.Add(-time.Hour)}))
		ids[i] = fmt.Sprintf("re_%s_%d", tag, i)
		must(t, f.AddRefund(fakestripe.Refund{ID: ids[i], Charge: ch, Amount: int64(100 + i), Status: "succeeded",
			Metadata: map[string]string{"ledger_refund_id": "lr_" + ids[i][3:]}, Created: from.Add(time.Duration(i) * time.Second)}))
	}
	return ids
}

// collect lists refunds and fails the test on a refund delivered twice or on
// fn called concurrently.
func collect(t *testing.T, s *Stripe, ctx context.Context, since, until time.Time) (map[string]reconcile.GatewayRefund, error) {
	t.Helper()
	got := map[string]reconcile.GatewayRefund{}
	var inside atomic.Int32
	err := s.Refunds(ctx, since, until, func(r reconcile.GatewayRefund) error {
		if inside.Add(1) != 1 {
			t.Error("fn called concurrently")
		}
		defer inside.Add(-1)
		if _, dup := got[r.ID]; dup {
			t.Errorf("refund %s delivered twice", r.ID)
		}
		got[r.ID] = r
		return nil
	})
	return got, err
}

func TestRefundsAcrossPagesAndSlices(t *testing.T) {
	f, srv := fake(t)
	// 601 refunds, one a second, so each slice boundary second holds one
	// and each slice needs two pages, plus two just outside the window.
	want := seed(t, f, "in", day0, 601)
	seed(t, f, "before", day0.Add(-time.Second), 1)
	seed(t, f, "after", day0.Add(601*time.Second), 1)
	s, _ := testGateway(t, srv.URL, nil)

	got, err := collect(t, s, context.Background(), day0, day0.Add(600*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Errorf("got %d refunds, want %d", len(got), len(want))
	}
	for i, id := range want {
		r, ok := got[id]
		if !ok {
			t.Errorf("refund %s missing", id)
			continue
		}
		ch := fmt.Sprintf("ch_in_%d", i)
		w := reconcile.GatewayRefund{ID: id, ChargeID: ch, PaymentIntentID: "pi_in_" + fmt.Sprint(i), CustomerID: fmt.Sprintf("cus_%d", i%7),
			Amount: int64(100 + i), Currency: "usd", Status: reconcile.RefundSucceeded, LedgerRefundID: "lr_in_" + fmt.Sprint(i),
			Created: day0.Add(time.Duration(i) * time.Second)}
		if r != w {
			t.Errorf("refund %d:\n got %+v\nwant %+v", i, r, w)
		}
	}

	// Four slices of two pages each, each asking for the expanded charge.
	reqs := f.Requests()
	gtes := map[string]bool{}
	lte, paged := 0, 0
	for _, r := range reqs {
		q := r.Query
		if r.Path != "/v1/refunds" || q.Get("limit") != "100" || !hasExpand(q, "data.charge") {
			t.Errorf("request %s %v", r.Path, q)
		}
		gtes[q.Get("created[gte]")] = true
		if q.Get("created[lte]") != "" {
			lte++
			if q.Get("created[lte]") != fmt.Sprint(day0.Unix()+600) {
				t.Errorf("last slice ends at %s", q.Get("created[lte]"))
			}
		} else if q.Get("created[lt]") == "" {
			t.Errorf("request without an upper bound: %v", q)
		}
		if q.Get("starting_after") != "" {
			paged++
		}
	}
	if len(gtes) != 4 || lte != 2 || paged != 4 {
		t.Errorf("%d slices, %d requests to the last one, %d follow-up pages; want 4 slices, each paged", len(gtes), lte, paged)
	}
	st := s.Stats()
	if st.ListRefundsRequests != int64(len(reqs)) || st.Attempts != int64(len(reqs)) || st.RefundsDecoded != 601 || st.Retries != 0 {
		t.Errorf("stats %+v for %d requests", st, len(reqs))
	}
}

func hasExpand(q map[string][]string, want string) bool {
	for k, vs := range q {
		if strings.HasPrefix(k, "expand[") && slices.Contains(vs, want) {
			return true
		}
	}
	return false
}

// TestRefundsOutsideRange: a server that ignores the created filter must
// not make the slices deliver the same refunds several times.
func TestRefundsOutsideRange(t *testing.T) {
	f := fakestripe.New(testKey)
	seed(t, f, "o", day0, 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		q := r.URL.Query()
		for k := range q {
			if strings.HasPrefix(k, "created[") {
				q.Del(k)
			}
		}
		r.URL.RawQuery = q.Encode()
		f.ServeHTTP(w, r)
	}))
	defer srv.Close()
	s, _ := testGateway(t, srv.URL, nil)
	_, err := collect(t, s, context.Background(), day0, day0.Add(time.Minute))
	if err == nil || !strings.Contains(err.Error(), "outside the requested range") {
		t.Errorf("Refunds over a server ignoring created: %v", err)
	}
}

func TestRefundsSubSecondWindow(t *testing.T) {
	f, srv := fake(t)
	seed(t, f, "w", day0.Add(-time.Second), 13) // day0-1s … day0+11s
	s, _ := testGateway(t, srv.URL, func(c *Config) { c.Concurrency = 1 })
	for _, c := range []struct {
		since, until time.Time
		first, last  int // indexes into the seeded refunds
	}{
		{day0.Add(500 * time.Millisecond), day0.Add(10*time.Second + 900*time.Millisecond), 1, 11},
		{day0.Add(999 * time.Millisecond), day0.Add(10 * time.Second), 1, 11},
		{day0.Add(-time.Nanosecond), day0.Add(time.Nanosecond), 0, 1},
		{day0.Add(3 * time.Second), day0.Add(3*time.Second + 999*time.Millisecond), 4, 4},
	} {
		got, err := collect(t, s, context.Background(), c.since, c.until)
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for i := c.first; i <= c.last; i++ {
			want = append(want, fmt.Sprintf("re_w_%d", i))
		}
		var ids []string
		for id := range got {
			ids = append(ids, id)
		}
		slices.Sort(ids)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("[%v, %v]: got %v, want %v", c.since, c.until, ids, want)
		}
	}
}

func TestRefundsEmptyWindowAsksNothing(t *testing.T) {
	f, srv := fake(t)
	s, _ := testGateway(t, srv.URL, nil)
	err := s.Refunds(context.Background(), day0.Add(time.Second), day0, func(reconcile.GatewayRefund) error {
		t.Error("fn called")
		return nil
	})
	if err != nil || len(f.Requests()) != 0 {
		t.Errorf("inverted window: %v, %d requests", err, len(f.Requests()))
	}
}

func TestMetadataKey(t *testing.T) {
	f, srv := fake(t)
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_1", Amount: 500, Created: day0}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 500, Created: day0,
		Metadata: map[string]string{"order_refund": "lr_custom", "ledger_refund_id": "lr_default"}}))
	s, _ := testGateway(t, srv.URL, func(c *Config) { c.MetadataKey = "order_refund" })
	got, err := collect(t, s, context.Background(), day0, day0)
	if err != nil || got["re_1"].LedgerRefundID != "lr_custom" {
		t.Errorf("Refunds: %+v, %v; want LedgerRefundID lr_custom", got, err)
	}
	r, err := s.Refund(context.Background(), "re_1")
	if err != nil || r.LedgerRefundID != "lr_custom" {
		t.Errorf("Refund: %+v, %v; want LedgerRefundID lr_custom", r, err)
	}
}

func TestRefundLookup(t *testing.T) {
	f, srv := fake(t)
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_9", PaymentIntent: "pi_1", Amount: 4500, Currency: "EUR", Created: day0}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 4500, Status: "failed",
		FailureReason: "expired_or_canceled_card", Created: day0.Add(time.Minute)}))
	s, _ := testGateway(t, srv.URL, nil)
	ctx := context.Background()

	r, err := s.Refund(ctx, "re_1")
	want := reconcile.GatewayRefund{ID: "re_1", ChargeID: "ch_1", PaymentIntentID: "pi_1", CustomerID: "cus_9", Amount: 4500,
		Currency: "eur", Status: reconcile.RefundFailed, FailureReason: "expired_or_canceled_card", Created: day0.Add(time.Minute)}
	if err != nil || r != want {
		t.Errorf("Refund:\n got %+v, %v\nwant %+v", r, err, want)
	}
	reqs := f.Requests()
	if len(reqs) != 1 || reqs[0].Path != "/v1/refunds/re_1" || !hasExpand(reqs[0].Query, "charge") {
		t.Errorf("requests %+v, want one GET /v1/refunds/re_1 expanding charge", reqs)
	}

	_, err = s.Refund(ctx, "re_missing")
	if !errors.Is(err, reconcile.ErrNotFound) || !strings.Contains(err.Error(), "re_missing") {
		t.Errorf("missing refund: %v, want ErrNotFound naming it", err)
	}
	if errors.Is(err, reconcile.ErrUnauthorized) {
		t.Errorf("404 also maps to ErrUnauthorized: %v", err)
	}
	if st := s.Stats(); st.RetrieveRefundRequests != 2 || st.Attempts != 2 {
		t.Errorf("stats %+v, want 2 look-ups, 404 not retried", st)
	}
	if _, err := s.Refund(ctx, ""); err == nil {
		t.Error("Refund(\"\") succeeded")
	}
}

func TestUnauthorized(t *testing.T) {
	f, srv := fake(t)
	seed(t, f, "x", day0, 3)
	const wrongKey = "sk_test_51WRONGkeyWRONGkeyWRONGkeyQRST"
	s, logs := testGateway(t, srv.URL, func(c *Config) { c.APIKey = wrongKey })
	ctx := context.Background()
	errs := map[string]error{}
	_, errs["Refund"] = s.Refund(ctx, "re_x_0")
	errs["Refunds"] = s.Refunds(ctx, day0, day0.Add(time.Hour), func(reconcile.GatewayRefund) error { return nil })
	_, errs["ChargeRefunds"] = s.ChargeRefunds(ctx, "ch_x_0")
	_, _, errs["CustomerRefunds"] = s.CustomerRefunds(ctx, "cus_0")
	errs["RefundFailures"] = s.RefundFailures(ctx, day0, day0.Add(time.Hour), func(reconcile.RefundFailure) error { return nil })
	for name, err := range errs {
		if !errors.Is(err, reconcile.ErrUnauthorized) {
			t.Errorf("%s: %v, want ErrUnauthorized", name, err)
			continue
		}
		if strings.Contains(err.Error(), wrongKey) || strings.Contains(err.Error(), "QRST") || strings.Contains(err.Error(), "sk_test") {
			t.Errorf("%s: error %q quotes the key", name, err)
		}
	}
	if strings.Contains(logs.String(), wrongKey) {
		t.Errorf("logs quote the key")
	}
	if st := s.Stats(); st.Retries != 0 {
		t.Errorf("401 retried: %+v", st)
	}
}

func TestChargeAndPaymentIntentRefunds(t *testing.T) {
	f, srv := fake(t)
	long := day0.AddDate(-2, 0, 0)
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_1", PaymentIntent: "pi_1", Amount: 1_000_000, Created: long}))
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_other", Customer: "cus_1", PaymentIntent: "pi_other", Amount: 100, Created: long}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_other", Charge: "ch_other", Amount: 100, Created: long}))
	want := map[string]reconcile.GatewayStatus{}
	for i, st := range []string{"failed", "canceled", "pending", "requires_action", "succeeded"} {
		id := "re_" + st
		must(t, f.AddRefund(fakestripe.Refund{ID: id, Charge: "ch_1", Amount: 10, Status: st, Created: long.Add(time.Duration(i) * time.Hour)}))
		want[id] = reconcile.GatewayStatus(st)
	}
	for i := range 120 { // more than a page
		id := fmt.Sprintf("re_many_%d", i)
		must(t, f.AddRefund(fakestripe.Refund{ID: id, Charge: "ch_1", Amount: 10, Created: day0.Add(time.Duration(i) * time.Second)}))
		want[id] = reconcile.RefundSucceeded
	}
	must(t, f.SetRefundStatus("re_many_7", "failed", day0.Add(time.Hour)))
	want["re_many_7"] = reconcile.RefundFailed
	s, _ := testGateway(t, srv.URL, nil)
	ctx := context.Background()

	check := func(name string, rs []reconcile.GatewayRefund, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		got := map[string]reconcile.GatewayStatus{}
		for _, r := range rs {
			if _, dup := got[r.ID]; dup {
				t.Errorf("%s: %s twice", name, r.ID)
			}
			got[r.ID] = r.Status
			if r.ChargeID != "ch_1" || r.PaymentIntentID != "pi_1" || r.CustomerID != "cus_1" {
				t.Errorf("%s: %+v", name, r)
			}
		}
		if len(got) != len(want) {
			t.Errorf("%s: %d refunds, want %d", name, len(got), len(want))
		}
		for id, st := range want {
			if got[id] != st {
				t.Errorf("%s: %s is %q, want %q", name, id, got[id], st)
			}
		}
	}
	rs, err := s.ChargeRefunds(ctx, "ch_1")
	check("ChargeRefunds", rs, err)
	rs, err = s.PaymentIntentRefunds(ctx, "pi_1")
	check("PaymentIntentRefunds", rs, err)

	var charge, pi int
	for _, r := range f.Requests() {
		if r.Path != "/v1/refunds" || !hasExpand(r.Query, "data.charge") || r.Query.Get("created[gte]") != "" {
			t.Errorf("request %s %v", r.Path, r.Query)
		}
		if r.Query.Get("charge") == "ch_1" {
			charge++
		}
		if r.Query.Get("payment_intent") == "pi_1" {
			pi++
		}
	}
	if charge != 2 || pi != 2 {
		t.Errorf("%d charge pages and %d payment intent pages, want 2 and 2", charge, pi)
	}
	if rs, err := s.ChargeRefunds(ctx, "ch_none"); err != nil || len(rs) != 0 {
		t.Errorf("charge without refunds: %v, %v", rs, err)
	}
	for name, call := range map[string]func() ([]reconcile.GatewayRefund, error){
		"charge": func() ([]reconcile.GatewayRefund, error) { return s.ChargeRefunds(ctx, "") },
		"pi":     func() ([]reconcile.GatewayRefund, error) { return s.PaymentIntentRefunds(ctx, "") },
	} {
		f.ResetRequests()
		if _, err := call(); err == nil || len(f.Requests()) != 0 {
			t.Errorf("%s with an empty id: %v after %d requests, want an error before any", name, err, len(f.Requests()))
		}
	}
}

func TestRefundFailures(t *testing.T) {
	f, srv := fake(t)
	old := day0.AddDate(-1, 0, 0)
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_1", Amount: 5000, Created: old}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_old", Charge: "ch_1", Amount: 1000, Created: old}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_outside", Charge: "ch_1", Amount: 1000, Created: old}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_new", Charge: "ch_1", Amount: 1000, Status: "failed", Created: day0.Add(48 * time.Hour)}))
	failedAt := day0.Add(5*24*time.Hour + 10*time.Hour)
	must(t, f.FailRefund("re_old", "expired_or_canceled_card", failedAt))
	must(t, f.FailRefund("re_outside", "lost_or_stolen_card", day0.AddDate(0, 2, 0)))
	for i := range 150 { // pages of failures
		id := fmt.Sprintf("re_bulk_%d", i)
		must(t, f.AddRefund(fakestripe.Refund{ID: id, Charge: "ch_1", Amount: 1, Created: old}))
		must(t, f.FailRefund(id, "declined", day0.Add(time.Duration(i)*time.Minute)))
	}
	s, _ := testGateway(t, srv.URL, nil)

	got := map[string]time.Time{}
	err := s.RefundFailures(context.Background(), day0, day0.AddDate(0, 1, 0), func(rf reconcile.RefundFailure) error {
		if _, dup := got[rf.RefundID]; dup {
			t.Errorf("%s twice", rf.RefundID)
		}
		got[rf.RefundID] = rf.FailedAt
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !got["re_old"].Equal(failedAt) || got["re_old"].Location() != time.UTC {
		t.Errorf("re_old failed at %v, want %v", got["re_old"], failedAt)
	}
	if _, ok := got["re_new"]; !ok {
		t.Error("re_new (created failed inside the window) missing")
	}
	if _, ok := got["re_outside"]; ok {
		t.Error("re_outside (failed after the window) listed")
	}
	if len(got) != 152 {
		t.Errorf("%d failures, want 152", len(got))
	}
	reqs := f.Requests()
	for _, r := range reqs {
		if r.Path != "/v1/balance_transactions" || r.Query.Get("type") != "refund_failure" ||
			r.Query.Get("created[gte]") != fmt.Sprint(day0.Unix()) || r.Query.Get("created[lte]") != fmt.Sprint(day0.AddDate(0, 1, 0).Unix()) {
			t.Errorf("request %s %v", r.Path, r.Query)
		}
	}
	if len(reqs) != 2 || s.Stats().ListBalanceTransactionsRequests != 2 {
		t.Errorf("%d requests, want 2 pages", len(reqs))
	}
}

// listAll is the set of refunds over the seeded window, or the error.
func listAll(t *testing.T, s *Stripe) (int, error) {
	t.Helper()
	got, err := collect(t, s, context.Background(), day0, day0.Add(time.Hour))
	return len(got), err
}

func TestRetriedFaults(t *testing.T) {
	for name, faults := range map[string][]fakestripe.Fault{
		"429 without Retry-After": {{PathPrefix: "/v1/refunds", Status: 429, Count: 2}},
		"429 with Retry-After":    {{PathPrefix: "/v1/refunds", Status: 429, RetryAfter: "1", Count: 2}},
		"500 502 503 504": {
			{PathPrefix: "/v1/refunds", Status: 500}, {PathPrefix: "/v1/refunds", Status: 502},
			{PathPrefix: "/v1/refunds", Status: 503}, {PathPrefix: "/v1/refunds", Status: 504},
		},
		"slow answer":        {{PathPrefix: "/v1/refunds", Delay: 10 * time.Second}},
		"5 failures then ok": {{PathPrefix: "/v1/refunds", Status: 503, Count: 5}},
	} {
		t.Run(name, func(t *testing.T) {
			f, srv := fake(t)
			seed(t, f, "r", day0, 150)
			var mu sync.Mutex
			var waits []time.Duration
			s, _ := testGateway(t, srv.URL, func(c *Config) {
				c.Concurrency = 1
				c.RequestTimeout = time.Second // above any normal answer, even under -race
				c.retryWait = func(_ int, ra time.Duration) time.Duration {
					mu.Lock()
					defer mu.Unlock()
					waits = append(waits, ra)
					return time.Millisecond
				}
			})
			faulted := 0
			for _, fl := range faults {
				f.InjectFault(fl)
				faulted += max(fl.Count, 1)
			}
			n, err := listAll(t, s)
			if err != nil || n != 150 {
				t.Fatalf("listed %d, %v; want 150 after retries", n, err)
			}
			st := s.Stats()
			if st.Retries != int64(faulted) || st.Attempts != st.ListRefundsRequests+int64(faulted) || st.ListRefundsRequests != 2 {
				t.Errorf("stats %+v, want %d retries over 2 requests", st, faulted)
			}
			switch {
			case faults[0].Status == 429:
				if st.RateLimited != int64(faulted) {
					t.Errorf("RateLimited = %d, want %d", st.RateLimited, faulted)
				}
				wantRA := time.Duration(0)
				if faults[0].RetryAfter != "" {
					wantRA = time.Second
				}
				if len(waits) != faulted || waits[0] != wantRA || waits[1] != wantRA {
					t.Errorf("Retry-After seen %v, want %v each time", waits, wantRA)
				}
			case faults[0].Status >= 500:
				if st.ServerErrors != int64(faulted) {
					t.Errorf("ServerErrors = %d, want %d", st.ServerErrors, faulted)
				}
			default:
				if st.Timeouts != 1 || st.NetworkErrors != 1 {
					t.Errorf("Timeouts = %d, NetworkErrors = %d, want 1", st.Timeouts, st.NetworkErrors)
				}
			}
		})
	}
}

func TestPersistentFaultsFail(t *testing.T) {
	for name, fl := range map[string]fakestripe.Fault{
		"429":  {PathPrefix: "/v1/refunds", Status: 429, Count: 100},
		"503":  {PathPrefix: "/v1/refunds", Status: 503, Count: 100},
		"slow": {PathPrefix: "/v1/refunds", Delay: 2 * time.Second, Count: 100},
	} {
		t.Run(name, func(t *testing.T) {
			f, srv := fake(t)
			seed(t, f, "r", day0, 10)
			s, _ := testGateway(t, srv.URL, func(c *Config) {
				c.Concurrency = 1
				c.MaxAttempts = 3
				c.RequestTimeout = 150 * time.Millisecond
			})
			f.InjectFault(fl)
			n, err := listAll(t, s)
			if err == nil {
				t.Fatalf("listed %d refunds through a persistent fault", n)
			}
			if !strings.HasPrefix(err.Error(), "list stripe refunds: ") {
				t.Errorf("error %q does not name the operation", err)
			}
			if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
				t.Errorf("error %q looks like the caller's context ended", err)
			}
			if fl.Delay > 0 && !strings.Contains(err.Error(), "did not answer within 150ms") {
				t.Errorf("error %q does not say the attempts timed out", err)
			}
			if fl.Status != 0 && !strings.Contains(err.Error(), fmt.Sprint(fl.Status)) {
				t.Errorf("error %q does not name status %d", err, fl.Status)
			}
			if st := s.Stats(); st.Attempts != 3 || st.Retries != 2 {
				t.Errorf("stats %+v, want 3 attempts", st)
			}
		})
	}
}

// corruptNth serves the fake but truncates the body of the nth request.
func corruptNth(f *fakestripe.Server, n int64) http.Handler {
	var count atomic.Int64
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if count.Add(1) != n {
			f.ServeHTTP(w, r)
			return
		}
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		w.Header().Set("Content-Type", "application/json")
		w.Write(body[:len(body)/2]) // a 200 whose JSON stops half way
	})
}

func TestMalformedBodies(t *testing.T) {
	for name, body := range map[string]string{
		"truncated":    `{"object":"list","data":[{"id":"re_1","object":"refund"`,
		"not JSON":     `<html>maintenance</html>`,
		"null":         `null`,
		"empty object": `{}`,
		"null data":    `{"object":"list","data":null,"has_more":false,"url":"/v1/refunds"}`,
		"array":        `[]`,
	} {
		t.Run(name, func(t *testing.T) {
			f, srv := fake(t)
			seed(t, f, "m", day0, 5)
			s, _ := testGateway(t, srv.URL, func(c *Config) { c.Concurrency = 1 })
			f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Body: body})
			if n, err := listAll(t, s); err == nil {
				t.Errorf("Refunds over %s: %d refunds and no error", name, n)
			}
			f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Body: body})
			if rs, err := s.ChargeRefunds(context.Background(), "ch_m_0"); err == nil {
				t.Errorf("ChargeRefunds over %s: %v and no error", name, rs)
			}
			f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds/re_m_0", Body: body})
			if r, err := s.Refund(context.Background(), "re_m_0"); err == nil {
				t.Errorf("Refund over %s: %+v and no error", name, r)
			}
			f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/charges", Body: body})
			if ids, _, err := s.CustomerRefunds(context.Background(), "cus_0"); err == nil {
				t.Errorf("CustomerRefunds over %s: %v and no error", name, ids)
			}
			f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/balance_transactions", Body: body})
			if err := s.RefundFailures(context.Background(), day0, day0.Add(time.Hour), func(reconcile.RefundFailure) error { return nil }); err == nil {
				t.Errorf("RefundFailures over %s: no error", name)
			}
		})
	}

	t.Run("second page truncated", func(t *testing.T) {
		f := fakestripe.New(testKey)
		seed(t, f, "p", day0, 150)
		srv := httptest.NewServer(corruptNth(f, 2))
		defer srv.Close()
		s, _ := testGateway(t, srv.URL, func(c *Config) { c.Concurrency = 1 })
		n, err := listAll(t, s)
		if err == nil || !strings.Contains(err.Error(), "list stripe refunds") {
			t.Errorf("listed %d refunds, error %v; want an error, never a partial success", n, err)
		}
	})
}

func TestListingThatDoesNotAdvance(t *testing.T) {
	f, srv := fake(t)
	seed(t, f, "c", day0, 150)
	s, _ := testGateway(t, srv.URL, func(c *Config) { c.Concurrency = 1 })

	f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", RepeatCursor: true, Count: 1000})
	done := make(chan error, 1)
	go func() { _, err := listAll(t, s); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "stripe refunds listing did not advance") {
			t.Errorf("Refunds over a repeating cursor: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Refunds loops over a repeating cursor")
	}
	if n := len(f.Requests()); n != 2 {
		t.Errorf("%d requests, want 2 (the repeat is seen on the second page)", n)
	}
	// A one-refund listing that always says has_more repeats as well.
	if _, err := s.ChargeRefunds(context.Background(), "ch_c_1"); err == nil || !strings.Contains(err.Error(), "did not advance") {
		t.Errorf("ChargeRefunds over a repeating cursor: %v", err)
	}

	f.ClearFaults()
	f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Body: `{"object":"list","data":[],"has_more":true,"url":"/v1/refunds"}`})
	if _, err := listAll(t, s); err == nil || !strings.Contains(err.Error(), "did not advance") {
		t.Errorf("an empty page with has_more: %v", err)
	}
}

func TestCancel(t *testing.T) {
	f, srv := fake(t)
	seed(t, f, "k", day0, 50)
	s, _ := testGateway(t, srv.URL, nil)

	t.Run("during a slow answer", func(t *testing.T) {
		// The answer takes an hour: only a listing that stops at the cancel
		// returns within the test, so no bound on how fast it does is needed
		// (a 3 s bound against a 10 s answer could lie on a loaded machine).
		f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Delay: time.Hour, Count: 100})
		defer f.ClearFaults()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := collect(t, s, ctx, day0, day0.Add(time.Hour))
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Refunds: %v, want context.Canceled", err)
		}
	})
	t.Run("during a backoff", func(t *testing.T) {
		slow, _ := testGateway(t, srv.URL, func(c *Config) {
			c.retryWait = func(int, time.Duration) time.Duration { return time.Hour }
		})
		f.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Status: 429, Count: 100})
		defer f.ClearFaults()
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(100*time.Millisecond, cancel)
		// The backoff is an hour: returning at all means the cancel cut it.
		_, err := slow.ChargeRefunds(ctx, "ch_k_1")
		if !errors.Is(err, context.Canceled) {
			t.Errorf("ChargeRefunds: %v, want context.Canceled", err)
		}
	})
	t.Run("already cancelled", func(t *testing.T) {
		f.ResetRequests()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := s.Refund(ctx, "re_k_1"); !errors.Is(err, context.Canceled) {
			t.Errorf("Refund: %v, want context.Canceled", err)
		}
		if err := s.RefundFailures(ctx, day0, day0.Add(time.Hour), func(reconcile.RefundFailure) error { return nil }); !errors.Is(err, context.Canceled) {
			t.Errorf("RefundFailures: %v, want context.Canceled", err)
		}
		if n := len(f.Requests()); n != 0 {
			t.Errorf("%d requests sent on a cancelled context", n)
		}
	})
	t.Run("fn fails", func(t *testing.T) {
		stop := errors.New("stop")
		calls := 0
		err := s.Refunds(context.Background(), day0, day0.Add(time.Hour), func(reconcile.GatewayRefund) error {
			calls++
			if calls == 5 {
				return stop
			}
			return nil
		})
		if err != stop || calls != 5 {
			t.Errorf("Refunds: %v after %d calls, want fn's error after 5", err, calls)
		}
	})
}

// TestRateLimit: forty look-ups at 20 per second, from four workers, cannot
// take less than 39/20 s whatever the machine; the limiter must have waited.
func TestRateLimit(t *testing.T) {
	f, srv := fake(t)
	seed(t, f, "l", day0, 40)
	s, _ := testGateway(t, srv.URL, func(c *Config) { c.MaxRPS = 20 })
	start := time.Now()
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := w; i < 40; i += 4 {
				if _, err := s.Refund(context.Background(), fmt.Sprintf("re_l_%d", i)); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	st := s.Stats()
	if st.Attempts != 40 {
		t.Fatalf("%d attempts, want 40", st.Attempts)
	}
	if elapsed < 1500*time.Millisecond {
		t.Errorf("40 requests at 20/s took %v", elapsed)
	}
	if st.LimiterWait < time.Second {
		t.Errorf("the limiter waited %v in all", st.LimiterWait)
	}
}

// BenchmarkRefunds lists 5,000 refunds (50 pages) from the fake over HTTP.
func BenchmarkRefunds(b *testing.B) {
	f := fakestripe.New(testKey)
	const n = 5000
	cs := make([]fakestripe.Charge, n)
	rs := make([]fakestripe.Refund, n)
	for i := range n {
		cs[i] = fakestripe.Charge{ID: fmt.Sprintf("ch_%d", i), Customer: fmt.Sprintf("cus_%d", i%100), Amount: 1000, Created: day0}
		rs[i] = fakestripe.Refund{ID: fmt.Sprintf("re_%d", i), Charge: cs[i].ID, Amount: 500,
			Metadata: map[string]string{DefaultMetadataKey: fmt.Sprintf("lr_%d", i)}, Created: day0.Add(time.Duration(i) * time.Second)}
	}
	if err := f.AddCharges(cs); err != nil {
		b.Fatal(err)
	}
	if err := f.AddRefunds(rs); err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(f)
	defer srv.Close()
	s, err := New(Config{APIKey: testKey, URL: srv.URL, MaxRPS: 1e6})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		got := 0
		if err := s.Refunds(context.Background(), day0, day0.Add(n*time.Second), func(reconcile.GatewayRefund) error { got++; return nil }); err != nil {
			b.Fatal(err)
		}
		if got != n {
			b.Fatalf("got %d refunds", got)
		}
	}
	b.ReportMetric(float64(s.Stats().RefundsDecoded)/b.Elapsed().Seconds(), "refunds/s")
}
