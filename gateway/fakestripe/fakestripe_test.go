package fakestripe_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
)

const testKey = "sk_test_fakestripe0123456789abcd"

var t0 = time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)

// newClient returns a real stripe-go client talking to srv.
func newClient(tb testing.TB, srv *httptest.Server, key string, retries int64) *client.API {
	tb.Helper()
	be := stripe.GetBackendWithConfig(stripe.APIBackend, &stripe.BackendConfig{
		URL:               stripe.String(srv.URL),
		HTTPClient:        srv.Client(),
		MaxNetworkRetries: stripe.Int64(retries),
		LeveledLogger:     &stripe.LeveledLogger{Level: stripe.LevelNull},
	})
	if bi, ok := be.(*stripe.BackendImplementation); ok {
		bi.SetNetworkRetriesSleep(false) // keep retry tests fast
	}
	return client.New(key, &stripe.Backends{API: be, Connect: be, Uploads: be})
}

// start returns a fake wrapped in an httptest server, and a client of it.
func start(tb testing.TB) (*fakestripe.Server, *httptest.Server, *client.API) {
	tb.Helper()
	fs := fakestripe.New(testKey)
	srv := httptest.NewServer(fs)
	tb.Cleanup(srv.Close)
	return fs, srv, newClient(tb, srv, testKey, 0)
}

func must(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatal(err)
	}
}

func stripeErr(tb testing.TB, err error) *stripe.Error {
	tb.Helper()
	var se *stripe.Error
	if !errors.As(err, &se) {
		tb.Fatalf("want *stripe.Error, got %T: %v", err, err)
	}
	return se
}

// seed adds n refunds, one charge each, created every `step` seconds from
// t0 with pairs sharing a timestamp, and returns the refund ids in the
// expected newest-first order.
func seed(tb testing.TB, fs *fakestripe.Server, n int) []string {
	tb.Helper()
	var ids []string
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i/2) * time.Minute) // refunds 2k and 2k+1 share created
		ch := fmt.Sprintf("ch_%04d", i)
		must(tb, fs.AddCharge(fakestripe.Charge{ID: ch, Customer: fmt.Sprintf("cus_%d", i%3),
			PaymentIntent: fmt.Sprintf("pi_%04d", i), Amount: 1000, Currency: "USD", Created: at.Add(-time.Hour)}))
		id := fmt.Sprintf("re_%04d", i)
		must(tb, fs.AddRefund(fakestripe.Refund{ID: id, Charge: ch, Amount: 100 + int64(i), Created: at}))
		ids = append(ids, id)
	}
	slices.Reverse(ids) // later created first; ties: later inserted first
	return ids
}

func collect(it interface {
	Next() bool
	Err() error
}, id func() string) ([]string, error) {
	var out []string
	for it.Next() {
		out = append(out, id())
		if len(out) > 100000 { // guard against a pagination that never ends
			return out, errors.New("list did not end")
		}
	}
	return out, it.Err()
}

func TestListRefundsPagingWithRealClient(t *testing.T) {
	fs, _, sc := start(t)
	want := seed(t, fs, 250)

	p := &stripe.RefundListParams{}
	p.Limit = stripe.Int64(100)
	it := sc.Refunds.List(p)
	got, err := collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if !slices.Equal(got, want) {
		t.Fatalf("order mismatch:\n got %v\nwant %v", got[:6], want[:6])
	}

	reqs := fs.Requests()
	if len(reqs) != 3 {
		t.Fatalf("want 3 page requests, got %d: %+v", len(reqs), reqs)
	}
	for i, r := range reqs {
		if r.Method != http.MethodGet || r.Path != "/v1/refunds" || r.Status != 200 || r.Query.Get("limit") != "100" {
			t.Errorf("request %d: %+v", i, r)
		}
	}
	if reqs[0].Query.Has("starting_after") || reqs[1].Query.Get("starting_after") != want[99] || reqs[2].Query.Get("starting_after") != want[199] {
		t.Errorf("unexpected cursors: %v %v %v", reqs[0].Query, reqs[1].Query, reqs[2].Query)
	}

	// Default limit is 10 and has_more is reported.
	single := &stripe.RefundListParams{}
	single.Single = true
	it = sc.Refunds.List(single)
	got, err = collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if !slices.Equal(got, want[:10]) || !it.Meta().HasMore || it.Meta().URL != "/v1/refunds" {
		t.Fatalf("single page: %v has_more=%v url=%q", got, it.Meta().HasMore, it.Meta().URL)
	}
}

func TestListRefundsEndingBefore(t *testing.T) {
	fs, _, sc := start(t)
	want := seed(t, fs, 25)

	// ending_before walks toward newer refunds; stripe-go reverses each page.
	p := &stripe.RefundListParams{}
	p.Limit = stripe.Int64(4)
	p.EndingBefore = stripe.String(want[20])
	it := sc.Refunds.List(p)
	got, err := collect(it, func() string { return it.Refund().ID })
	must(t, err)
	exp := slices.Clone(want[:20])
	slices.Reverse(exp)
	if !slices.Equal(got, exp) {
		t.Fatalf("ending_before:\n got %v\nwant %v", got, exp)
	}
}

func TestListRefundsCreatedFilters(t *testing.T) {
	fs, _, sc := start(t)
	want := seed(t, fs, 40) // refunds 2k, 2k+1 at t0+k minutes, k = 0..19

	p := &stripe.RefundListParams{CreatedRange: &stripe.RangeQueryParams{
		GreaterThanOrEqual: t0.Add(5 * time.Minute).Unix(),
		LesserThan:         t0.Add(8 * time.Minute).Unix(),
	}}
	p.Limit = stripe.Int64(2)
	it := sc.Refunds.List(p)
	got, err := collect(it, func() string { return it.Refund().ID })
	must(t, err)
	exp := []string{"re_0015", "re_0014", "re_0013", "re_0012", "re_0011", "re_0010"}
	if !slices.Equal(got, exp) {
		t.Fatalf("gte/lt: got %v want %v", got, exp)
	}
	q := fs.Requests()[0].Query
	if q.Get("created[gte]") == "" || q.Get("created[lt]") == "" {
		t.Fatalf("stripe-go encoding not as expected: %v", q)
	}

	p = &stripe.RefundListParams{CreatedRange: &stripe.RangeQueryParams{
		GreaterThan:       t0.Add(17 * time.Minute).Unix(),
		LesserThanOrEqual: t0.Add(30 * time.Minute).Unix(),
	}}
	it = sc.Refunds.List(p)
	got, err = collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if !slices.Equal(got, want[:4]) {
		t.Fatalf("gt/lte: got %v want %v", got, want[:4])
	}

	p = &stripe.RefundListParams{Created: stripe.Int64(t0.Add(3 * time.Minute).Unix())}
	it = sc.Refunds.List(p)
	got, err = collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if !slices.Equal(got, []string{"re_0007", "re_0006"}) {
		t.Fatalf("created=N: got %v", got)
	}

	// An empty range is an empty list, not an error.
	p = &stripe.RefundListParams{Created: stripe.Int64(t0.Add(-time.Hour).Unix())}
	it = sc.Refunds.List(p)
	got, err = collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if len(got) != 0 || it.Meta().HasMore {
		t.Fatalf("empty range: %v", got)
	}
}

func TestListRefundsChargeAndPaymentIntentFilters(t *testing.T) {
	fs, _, sc := start(t)
	seed(t, fs, 10)
	must(t, fs.AddCharge(fakestripe.Charge{ID: "ch_multi", PaymentIntent: "pi_multi", Amount: 5000, Created: t0}))
	for i := 0; i < 5; i++ {
		must(t, fs.AddRefund(fakestripe.Refund{ID: fmt.Sprintf("re_multi_%d", i), Charge: "ch_multi", Amount: 100,
			Created: t0.Add(time.Duration(i%2) * time.Second)}))
	}
	// A refund known only by payment intent (no charge in the fake).
	must(t, fs.AddRefund(fakestripe.Refund{ID: "re_orphan", PaymentIntent: "pi_orphan", Amount: 7, Currency: "EUR", Created: t0}))

	p := &stripe.RefundListParams{Charge: stripe.String("ch_multi")}
	p.Limit = stripe.Int64(2)
	it := sc.Refunds.List(p)
	got, err := collect(it, func() string { return it.Refund().ID })
	must(t, err)
	exp := []string{"re_multi_3", "re_multi_1", "re_multi_4", "re_multi_2", "re_multi_0"}
	if !slices.Equal(got, exp) {
		t.Fatalf("charge filter: got %v want %v", got, exp)
	}

	p = &stripe.RefundListParams{PaymentIntent: stripe.String("pi_multi")}
	it = sc.Refunds.List(p)
	got, err = collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if !slices.Equal(got, exp) {
		t.Fatalf("payment_intent filter: got %v want %v", got, exp)
	}

	p = &stripe.RefundListParams{PaymentIntent: stripe.String("pi_orphan")}
	it = sc.Refunds.List(p)
	var refunds []*stripe.Refund
	for it.Next() {
		refunds = append(refunds, it.Refund())
	}
	must(t, it.Err())
	if len(refunds) != 1 || refunds[0].ID != "re_orphan" || refunds[0].Charge != nil ||
		refunds[0].PaymentIntent.ID != "pi_orphan" || refunds[0].Currency != "eur" {
		t.Fatalf("orphan refund: %+v", refunds)
	}

	p = &stripe.RefundListParams{Charge: stripe.String("ch_none")}
	it = sc.Refunds.List(p)
	if it.Next() || it.Err() != nil {
		t.Fatalf("unknown charge should list nothing: %v", it.Err())
	}
}

func TestExpandChargeInList(t *testing.T) {
	fs, _, sc := start(t)
	must(t, fs.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_9", PaymentIntent: "pi_1", Amount: 1000, Currency: "usd", Created: t0}))
	must(t, fs.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 400, Created: t0.Add(time.Minute),
		Metadata: map[string]string{"ledger_id": "L-1"}}))
	must(t, fs.AddRefund(fakestripe.Refund{ID: "re_2", Charge: "ch_1", Created: t0.Add(2 * time.Minute), Status: "pending"}))

	p := &stripe.RefundListParams{}
	p.AddExpand("data.charge")
	it := sc.Refunds.List(p)
	var got []*stripe.Refund
	for it.Next() {
		got = append(got, it.Refund())
	}
	must(t, it.Err())
	if len(got) != 2 {
		t.Fatalf("got %d refunds", len(got))
	}
	r2, r1 := got[0], got[1]
	if r2.ID != "re_2" || r2.Amount != 600 || r2.Status != stripe.RefundStatusPending {
		t.Errorf("amount should default to the unrefunded remainder: %+v", r2)
	}
	if r1.Charge == nil || r1.Charge.Customer == nil || r1.Charge.Customer.ID != "cus_9" {
		t.Fatalf("charge not expanded: %+v", r1.Charge)
	}
	ch := r1.Charge
	if ch.ID != "ch_1" || ch.Amount != 1000 || ch.AmountRefunded != 1000 || !ch.Refunded || !ch.Paid || !ch.Captured ||
		ch.PaymentIntent.ID != "pi_1" || ch.Currency != "usd" || ch.Status != "succeeded" {
		t.Errorf("expanded charge: %+v", ch)
	}
	if r1.Metadata["ledger_id"] != "L-1" || r1.BalanceTransaction == nil || !strings.HasPrefix(r1.BalanceTransaction.ID, "txn_") {
		t.Errorf("refund fields: %+v", r1)
	}
	if got := fs.Requests()[0].Query.Get("expand[0]"); got != "data.charge" {
		t.Errorf("stripe-go sent expand as %v", fs.Requests()[0].Query)
	}

	// Without expansion charge is just the id.
	it = sc.Refunds.List(&stripe.RefundListParams{})
	it.Next()
	if c := it.Refund().Charge; c == nil || c.ID != "ch_1" || c.Amount != 0 {
		t.Errorf("unexpanded charge: %+v", c)
	}

	// Expanding a non-"data." path on a list is rejected like Stripe does.
	bad := &stripe.RefundListParams{}
	bad.AddExpand("charge")
	it = sc.Refunds.List(bad)
	if it.Next() {
		t.Fatal("expected an error")
	}
	if se := stripeErr(t, it.Err()); se.HTTPStatusCode != 400 || se.Param != "expand" {
		t.Errorf("bad expand: %+v", se)
	}
}

func TestRetrieveRefund(t *testing.T) {
	fs, _, sc := start(t)
	seed(t, fs, 3)

	p := &stripe.RefundParams{}
	p.AddExpand("charge")
	r, err := sc.Refunds.Get("re_0001", p)
	must(t, err)
	if r.ID != "re_0001" || r.Object != "refund" || r.Amount != 101 || r.Currency != "usd" || r.Status != "succeeded" ||
		r.Charge.ID != "ch_0001" || r.Charge.Customer.ID != "cus_1" || r.PaymentIntent.ID != "pi_0001" ||
		r.Created != t0.Unix() || r.FailureReason != "" || r.FailureBalanceTransaction != nil {
		t.Fatalf("retrieved: %+v", r)
	}
	if r.Charge.Amount != 1000 || r.Charge.AmountRefunded != 101 || r.Charge.Refunded {
		t.Errorf("expanded charge: %+v", r.Charge)
	}

	// Raw JSON shape: nulls and the absence of failure fields.
	body := rawGet(t, fsURL(t, fs), "/v1/refunds/re_0001", testKey)
	for _, frag := range []string{`"object":"refund"`, `"destination_details":null`, `"reason":null`, `"receipt_number":null`,
		`"source_transfer_reversal":null`, `"transfer_reversal":null`, `"metadata":{}`, `"charge":"ch_0001"`} {
		if !strings.Contains(body, frag) {
			t.Errorf("body lacks %s: %s", frag, body)
		}
	}
	if strings.Contains(body, "failure_reason") {
		t.Errorf("failure_reason on a succeeded refund: %s", body)
	}

	must(t, fs.FailRefund("re_0001", "expired_or_canceled_card", t0.Add(time.Hour)))
	r, err = sc.Refunds.Get("re_0001", nil)
	must(t, err)
	if r.Status != stripe.RefundStatusFailed || r.FailureReason != "expired_or_canceled_card" ||
		r.FailureBalanceTransaction == nil || !strings.HasPrefix(r.FailureBalanceTransaction.ID, "txn_") ||
		r.FailureBalanceTransaction.ID == r.BalanceTransaction.ID {
		t.Fatalf("failed refund: %+v", r)
	}
	c, err := sc.Charges.Get("ch_0001", nil)
	must(t, err)
	if c.AmountRefunded != 0 || c.Refunded {
		t.Errorf("a failed refund must not count in amount_refunded: %+v", c)
	}
}

// fsURL serves fs on a fresh test server (for raw HTTP checks).
func fsURL(tb testing.TB, fs *fakestripe.Server) string {
	srv := httptest.NewServer(fs)
	tb.Cleanup(srv.Close)
	return srv.URL
}

func rawDo(tb testing.TB, method, url, key string) (*http.Response, string) {
	tb.Helper()
	req, err := http.NewRequest(method, url, nil)
	must(tb, err)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	res, err := http.DefaultClient.Do(req)
	must(tb, err)
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	must(tb, err)
	return res, string(b)
}

func rawGet(tb testing.TB, base, path, key string) string {
	tb.Helper()
	res, body := rawDo(tb, http.MethodGet, base+path, key)
	if res.StatusCode != 200 {
		tb.Fatalf("GET %s: %d %s", path, res.StatusCode, body)
	}
	return body
}

func TestNotFound(t *testing.T) {
	fs, srv, sc := start(t)
	seed(t, fs, 1)

	_, err := sc.Refunds.Get("re_x", nil)
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 404 || se.Code != stripe.ErrorCodeResourceMissing || se.Param != "id" ||
		se.Type != stripe.ErrorTypeInvalidRequest || se.Msg != "No such refund: 're_x'" || se.RequestID == "" {
		t.Fatalf("404: %+v", se)
	}
	_, err = sc.Charges.Get("ch_x", nil)
	if se := stripeErr(t, err); se.HTTPStatusCode != 404 || se.Msg != "No such charge: 'ch_x'" {
		t.Fatalf("charge 404: %+v", se)
	}

	res, body := rawDo(t, http.MethodGet, srv.URL+"/v1/invoices", testKey)
	if res.StatusCode != 404 || !strings.Contains(body, `"type":"invalid_request_error"`) || !strings.Contains(body, "Unrecognized request URL") {
		t.Fatalf("unknown path: %d %s", res.StatusCode, body)
	}
}

func TestListParamErrors(t *testing.T) {
	fs, srv, sc := start(t)
	seed(t, fs, 3)

	p := &stripe.RefundListParams{}
	p.Limit = stripe.Int64(101)
	it := sc.Refunds.List(p)
	if it.Next() {
		t.Fatal("limit 101 accepted")
	}
	if se := stripeErr(t, it.Err()); se.HTTPStatusCode != 400 || se.Param != "limit" || se.Type != stripe.ErrorTypeInvalidRequest {
		t.Fatalf("limit: %+v", se)
	}
	res, _ := rawDo(t, http.MethodGet, srv.URL+"/v1/refunds?limit=0", testKey)
	if res.StatusCode != 400 {
		t.Fatalf("limit=0: %d", res.StatusCode)
	}

	p = &stripe.RefundListParams{}
	p.StartingAfter = stripe.String("re_missing")
	it = sc.Refunds.List(p)
	if it.Next() {
		t.Fatal("unknown cursor accepted")
	}
	if se := stripeErr(t, it.Err()); se.HTTPStatusCode != 400 || se.Code != stripe.ErrorCodeResourceMissing || se.Param != "starting_after" {
		t.Fatalf("cursor: %+v", se)
	}

	res, body := rawDo(t, http.MethodGet, srv.URL+"/v1/refunds?customer=cus_1", testKey)
	if res.StatusCode != 400 || !strings.Contains(body, "unknown parameter") {
		t.Fatalf("unknown parameter: %d %s", res.StatusCode, body)
	}
}

func TestAuth(t *testing.T) {
	fs, srv, _ := start(t)
	seed(t, fs, 1)

	wrong := newClient(t, srv, "sk_test_wrongwrongwrong9876", 0)
	_, err := wrong.Refunds.Get("re_0000", nil)
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 401 || se.Type != stripe.ErrorTypeInvalidRequest || se.Msg != "Invalid API Key provided: sk_test_****9876" {
		t.Fatalf("401: %+v", se)
	}
	res, body := rawDo(t, http.MethodGet, srv.URL+"/v1/refunds", "")
	if res.StatusCode != 401 || strings.Contains(body, testKey) {
		t.Fatalf("missing key: %d %s", res.StatusCode, body)
	}

	// HTTP basic auth with the key as the user is accepted too.
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/v1/refunds/re_0000", nil)
	req.SetBasicAuth(testKey, "")
	res, err = http.DefaultClient.Do(req)
	must(t, err)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("basic auth: %d", res.StatusCode)
	}

	// An empty configured key accepts anything.
	open := httptest.NewServer(fakestripe.New(""))
	defer open.Close()
	if res, _ := rawDo(t, http.MethodGet, open.URL+"/v1/refunds", "whatever"); res.StatusCode != 200 {
		t.Fatalf("open server: %d", res.StatusCode)
	}
}

func TestBalanceTransactionsAfterFailRefund(t *testing.T) {
	fs, _, sc := start(t)
	seed(t, fs, 6)
	failAt := t0.Add(48 * time.Hour)
	must(t, fs.FailRefund("re_0002", "lost_or_stolen_card", failAt))
	must(t, fs.FailRefund("re_0004", "", failAt.Add(time.Minute)))
	if err := fs.FailRefund("re_0004", "declined", failAt); err == nil {
		t.Error("failing a failed refund twice should be an error")
	}

	p := &stripe.BalanceTransactionListParams{Type: stripe.String("refund_failure")}
	p.AddExpand("data.source")
	it := sc.BalanceTransactions.List(p)
	var got []*stripe.BalanceTransaction
	for it.Next() {
		got = append(got, it.BalanceTransaction())
	}
	must(t, it.Err())
	if len(got) != 2 {
		t.Fatalf("want 2 refund_failure transactions, got %d", len(got))
	}
	bt := got[1]
	if bt.Type != stripe.BalanceTransactionTypeRefundFailure || bt.Source.ID != "re_0002" || bt.Amount != 102 ||
		bt.Created != failAt.Unix() || bt.ReportingCategory != "refund_failure" || bt.Currency != "usd" ||
		bt.Status != stripe.BalanceTransactionStatusAvailable || !strings.HasPrefix(bt.ID, "txn_") {
		t.Fatalf("refund_failure txn: %+v", bt)
	}
	if bt.Source.Refund == nil || bt.Source.Refund.Status != stripe.RefundStatusFailed || bt.Source.Refund.FailureReason != "lost_or_stolen_card" {
		t.Fatalf("expanded source: %+v", bt.Source)
	}
	if got[0].Source.ID != "re_0004" || got[0].Source.Refund.FailureReason != "unknown" {
		t.Fatalf("newest first: %+v", got[0].Source)
	}

	// Filter by source: the refund's "refund" and "refund_failure" transactions.
	it = sc.BalanceTransactions.List(&stripe.BalanceTransactionListParams{Source: stripe.String("re_0002")})
	var types []string
	for it.Next() {
		types = append(types, string(it.BalanceTransaction().Type))
		if it.BalanceTransaction().Source.ID != "re_0002" {
			t.Errorf("source filter leaked %+v", it.BalanceTransaction().Source)
		}
	}
	must(t, it.Err())
	if !slices.Equal(types, []string{"refund_failure", "refund"}) {
		t.Fatalf("source filter types: %v", types)
	}

	// Retrieval of the failure transaction by the id the refund names.
	r, err := sc.Refunds.Get("re_0002", nil)
	must(t, err)
	bt2, err := sc.BalanceTransactions.Get(r.FailureBalanceTransaction.ID, nil)
	must(t, err)
	if bt2.Type != "refund_failure" || bt2.Source.ID != "re_0002" {
		t.Fatalf("get txn: %+v", bt2)
	}

	// Created window on the full list: only the 6 original refund txns.
	bp := &stripe.BalanceTransactionListParams{CreatedRange: &stripe.RangeQueryParams{LesserThan: failAt.Unix()}}
	it = sc.BalanceTransactions.List(bp)
	n := 0
	for it.Next() {
		n++
		if it.BalanceTransaction().Type != "refund" || it.BalanceTransaction().Amount >= 0 {
			t.Errorf("unexpected %+v", it.BalanceTransaction())
		}
	}
	must(t, it.Err())
	if n != 6 {
		t.Fatalf("want 6 refund txns, got %d", n)
	}
}

func TestAddFailedRefund(t *testing.T) {
	fs, _, sc := start(t)
	must(t, fs.AddCharge(fakestripe.Charge{ID: "ch_1", Amount: 500, Created: t0}))
	must(t, fs.AddRefund(fakestripe.Refund{ID: "re_f", Charge: "ch_1", Amount: 500, Status: "failed", Created: t0}))
	r, ok := fs.Refund("re_f")
	if !ok || r.FailureReason != "unknown" || r.Status != "failed" || r.PaymentIntent != "" || r.Charge != "ch_1" {
		t.Fatalf("Refund(): %+v", r)
	}
	it := sc.BalanceTransactions.List(&stripe.BalanceTransactionListParams{Type: stripe.String("refund_failure")})
	if !it.Next() || it.BalanceTransaction().Source.ID != "re_f" || it.BalanceTransaction().Created != t0.Unix() || it.Next() {
		t.Fatalf("refund_failure txn of an added failed refund: %v", it.Err())
	}
}

func TestEventsAfterStatusChanges(t *testing.T) {
	fs, _, sc := start(t)
	seed(t, fs, 4)
	must(t, fs.AddCharge(fakestripe.Charge{ID: "ch_p", Amount: 300, Created: t0}))
	must(t, fs.AddRefund(fakestripe.Refund{ID: "re_p", Charge: "ch_p", Status: "pending", Created: t0}))
	at := t0.Add(24 * time.Hour)
	must(t, fs.FailRefund("re_0001", "declined", at))
	must(t, fs.SetRefundStatus("re_p", "succeeded", at.Add(time.Minute)))
	if err := fs.SetRefundStatus("re_p", "succeeded", at); err == nil {
		t.Error("setting the current status should fail")
	}
	if err := fs.SetRefundStatus("re_nope", "succeeded", at); err == nil {
		t.Error("unknown refund should fail")
	}

	it := sc.Events.List(&stripe.EventListParams{Type: stripe.String("refund.updated")})
	var evs []*stripe.Event
	for it.Next() {
		evs = append(evs, it.Event())
	}
	must(t, it.Err())
	if len(evs) != 2 {
		t.Fatalf("want 2 refund.updated events, got %d", len(evs))
	}
	failEv := evs[1]
	if failEv.Type != "refund.updated" || failEv.Created != at.Unix() || failEv.APIVersion != "2023-10-16" ||
		!strings.HasPrefix(failEv.ID, "evt_") || failEv.Livemode || failEv.Object != "event" {
		t.Fatalf("event: %+v", failEv)
	}
	if failEv.GetObjectValue("id") != "re_0001" || failEv.GetObjectValue("status") != "failed" ||
		failEv.GetObjectValue("failure_reason") != "declined" || failEv.GetPreviousValue("status") != "succeeded" {
		t.Fatalf("event data: %s prev=%v", failEv.Data.Raw, failEv.Data.PreviousAttributes)
	}
	if evs[0].GetObjectValue("id") != "re_p" || evs[0].GetPreviousValue("status") != "pending" || evs[0].GetObjectValue("status") != "succeeded" {
		t.Fatalf("status event: %s", evs[0].Data.Raw)
	}

	// types[] and wildcards; the event snapshot does not change later.
	must(t, fs.SetRefundStatus("re_0003", "canceled", at.Add(time.Hour)))
	ep := &stripe.EventListParams{Types: stripe.StringSlice([]string{"charge.refund.updated"})}
	it = sc.Events.List(ep)
	var ids []string
	for it.Next() {
		ids = append(ids, it.Event().GetObjectValue("id"))
	}
	must(t, it.Err())
	if !slices.Equal(ids, []string{"re_0003", "re_p", "re_0001"}) {
		t.Fatalf("types[]: %v", ids)
	}
	if q := fs.Requests(); q[len(q)-1].Query.Get("types[0]") != "charge.refund.updated" {
		t.Errorf("types encoding: %v", q[len(q)-1].Query)
	}
	it = sc.Events.List(&stripe.EventListParams{Type: stripe.String("charge.*"),
		CreatedRange: &stripe.RangeQueryParams{LesserThanOrEqual: at.Unix()}})
	n := 0
	for it.Next() {
		n++
	}
	must(t, it.Err())
	if n != 1 {
		t.Fatalf("wildcard + created: %d", n)
	}
	ev, err := sc.Events.Get(failEv.ID, nil)
	must(t, err)
	if ev.Type != "refund.updated" || ev.GetObjectValue("status") != "failed" {
		t.Fatalf("get event: %+v", ev)
	}
}

func TestNonGETIsRejectedAndLogged(t *testing.T) {
	fs, srv, sc := start(t)
	seed(t, fs, 1)
	_, err := sc.Refunds.New(&stripe.RefundParams{Charge: stripe.String("ch_0000")})
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 405 || se.Type != stripe.ErrorTypeInvalidRequest {
		t.Fatalf("POST: %+v", se)
	}
	res, _ := rawDo(t, http.MethodDelete, srv.URL+"/v1/refunds/re_0000", testKey)
	if res.StatusCode != 405 || res.Header.Get("Allow") != "GET" {
		t.Fatalf("DELETE: %d", res.StatusCode)
	}
	var writes []fakestripe.Request
	for _, r := range fs.Requests() {
		if r.Method != http.MethodGet {
			writes = append(writes, r)
		}
	}
	if len(writes) != 2 || writes[0].Method != "POST" || writes[0].Path != "/v1/refunds" || writes[0].Status != 405 ||
		writes[1].Method != "DELETE" || writes[1].Status != 405 {
		t.Fatalf("logged writes: %+v", writes)
	}
	if r, _ := fs.Refund("re_0000"); r.Status != "succeeded" {
		t.Fatal("state changed by a rejected write")
	}
	fs.ResetRequests()
	if len(fs.Requests()) != 0 {
		t.Fatal("ResetRequests did not empty the log")
	}
}

func TestFaultRateLimit(t *testing.T) {
	fs, srv, sc := start(t)
	seed(t, fs, 3)
	fs.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Status: 429, RetryAfter: "2", Count: 2})

	_, err := sc.Refunds.Get("re_0000", nil)
	se := stripeErr(t, err)
	if se.HTTPStatusCode != 429 || se.Code != "rate_limit" {
		t.Fatalf("429: %+v", se)
	}
	res, _ := rawDo(t, http.MethodGet, srv.URL+"/v1/refunds", testKey)
	if res.StatusCode != 429 || res.Header.Get("Retry-After") != "2" {
		t.Fatalf("second use: %d %q", res.StatusCode, res.Header.Get("Retry-After"))
	}
	if _, err := sc.Refunds.Get("re_0000", nil); err != nil {
		t.Fatalf("fault should be used up after Count requests: %v", err)
	}
	st := statuses(fs)
	if !slices.Equal(st, []int{429, 429, 200}) {
		t.Fatalf("statuses: %v", st)
	}
}

func statuses(fs *fakestripe.Server) []int {
	var out []int
	for _, r := range fs.Requests() {
		out = append(out, r.Status)
	}
	return out
}

func TestFaultServerErrorRetried(t *testing.T) {
	fs, srv, _ := start(t)
	seed(t, fs, 3)
	fs.InjectFault(fakestripe.Fault{PathPrefix: "/v1/charges", Status: 500}) // does not match refunds
	fs.InjectFault(fakestripe.Fault{Status: 503, Count: 2})

	retrying := newClient(t, srv, testKey, 2)
	r, err := retrying.Refunds.Get("re_0001", nil)
	must(t, err)
	if r.ID != "re_0001" {
		t.Fatalf("got %+v", r)
	}
	if st := statuses(fs); !slices.Equal(st, []int{503, 503, 200}) {
		t.Fatalf("statuses: %v", st)
	}

	noRetry := newClient(t, srv, testKey, 0)
	_, err = noRetry.Charges.Get("ch_0001", nil)
	if se := stripeErr(t, err); se.HTTPStatusCode != 500 || se.Type != stripe.ErrorTypeAPI {
		t.Fatalf("500: %+v", se)
	}
	fs.InjectFault(fakestripe.Fault{Status: 502})
	fs.ClearFaults()
	if _, err := noRetry.Charges.Get("ch_0001", nil); err != nil {
		t.Fatalf("ClearFaults: %v", err)
	}
}

func TestFaultMalformedBody(t *testing.T) {
	fs, _, sc := start(t)
	seed(t, fs, 3)
	fs.InjectFault(fakestripe.Fault{Body: `{"object":"list","data":[{"id":"re_`})
	it := sc.Refunds.List(&stripe.RefundListParams{})
	if it.Next() {
		t.Fatal("truncated body decoded")
	}
	if err := it.Err(); err == nil || !strings.Contains(err.Error(), "deserialize") {
		t.Fatalf("want a decode error, got %v", err)
	}
	fs.InjectFault(fakestripe.Fault{Status: 502, Body: "<html>bad gateway</html>"})
	_, err := sc.Refunds.Get("re_0000", nil)
	if err == nil || strings.Contains(err.Error(), "re_0000") {
		t.Fatalf("502 html: %v", err)
	}
}

func TestFaultDelayRespectsCancellation(t *testing.T) {
	fs, srv, _ := start(t)
	seed(t, fs, 1)
	// The delay is an hour: a handler that did not notice the cancellation
	// would log nothing within the test, so the wait for its 499 is on that
	// condition, up to go test's deadline, not on a fixed few seconds.
	fs.InjectFault(fakestripe.Fault{Delay: time.Hour})
	sc := newClient(t, srv, testKey, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	p := &stripe.RefundParams{}
	p.Context = ctx
	_, err := sc.Refunds.Get("re_0000", p)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline exceeded, got %v", err)
	}
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for len(statuses(fs)) == 0 || statuses(fs)[0] != 499 {
		<-tick.C
	}

	fs.InjectFault(fakestripe.Fault{Delay: 50 * time.Millisecond})
	begin := time.Now()
	if _, err := sc.Refunds.Get("re_0000", nil); err != nil {
		t.Fatal(err)
	}
	if time.Since(begin) < 50*time.Millisecond {
		t.Fatal("delay not applied")
	}
}

func TestFaultRepeatCursor(t *testing.T) {
	fs, _, sc := start(t)
	want := seed(t, fs, 30)
	fs.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", RepeatCursor: true, Count: 1000})
	p := &stripe.RefundListParams{}
	p.Limit = stripe.Int64(10)
	it := sc.Refunds.List(p)
	var got []string
	for len(got) < 55 && it.Next() {
		got = append(got, it.Refund().ID)
	}
	must(t, it.Err())
	if len(got) != 55 {
		t.Fatalf("iteration ended after %d items; has_more should stay true", len(got))
	}
	for i, id := range got {
		if id != want[i%10] {
			t.Fatalf("item %d = %s, want first page again (%s)", i, id, want[i%10])
		}
	}
	reqs := fs.Requests()
	if len(reqs) != 6 || reqs[5].Query.Get("starting_after") != want[9] {
		t.Fatalf("requests: %d %+v", len(reqs), reqs[len(reqs)-1])
	}

	// has_more stays true even when everything fits on one page.
	fs.ClearFaults()
	fs.InjectFault(fakestripe.Fault{RepeatCursor: true})
	p = &stripe.RefundListParams{Charge: stripe.String("ch_0003")}
	p.Single = true
	it = sc.Refunds.List(p)
	got, err := collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if !slices.Equal(got, []string{"re_0003"}) || !it.Meta().HasMore {
		t.Fatalf("repeat on a short list: %v has_more=%v", got, it.Meta().HasMore)
	}
	// Without the fault the same list ends.
	it = sc.Refunds.List(p)
	if _, err := collect(it, func() string { return it.Refund().ID }); err != nil || it.Meta().HasMore {
		t.Fatalf("no fault: has_more=%v err=%v", it.Meta().HasMore, err)
	}
}

func TestChargesList(t *testing.T) {
	fs, _, sc := start(t)
	seed(t, fs, 12) // customers cus_0, cus_1, cus_2 round robin
	p := &stripe.ChargeListParams{Customer: stripe.String("cus_1")}
	p.Limit = stripe.Int64(2)
	it := sc.Charges.List(p)
	got, err := collect(it, func() string { return it.Charge().ID })
	must(t, err)
	if !slices.Equal(got, []string{"ch_0010", "ch_0007", "ch_0004", "ch_0001"}) {
		t.Fatalf("customer filter: %v", got)
	}
	p = &stripe.ChargeListParams{CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: t0.Add(-time.Hour + 5*time.Minute).Unix()}}
	it = sc.Charges.List(p)
	got, err = collect(it, func() string { return it.Charge().ID })
	must(t, err)
	if !slices.Equal(got, []string{"ch_0011", "ch_0010"}) {
		t.Fatalf("charges created filter: %v", got)
	}
	c, err := sc.Charges.Get("ch_0003", nil)
	must(t, err)
	if c.Customer.ID != "cus_0" || c.AmountRefunded != 103 || c.Refunded || c.AmountCaptured != 1000 || c.Livemode {
		t.Fatalf("charge: %+v", c)
	}
}

func TestAddValidation(t *testing.T) {
	fs := fakestripe.New("")
	must(t, fs.AddCharge(fakestripe.Charge{ID: "ch_1", Amount: 100, Currency: "EUR", PaymentIntent: "pi_1", Created: t0}))
	cases := map[string]error{
		"charge without id":   fs.AddCharge(fakestripe.Charge{Amount: 1}),
		"duplicate charge":    fs.AddCharge(fakestripe.Charge{ID: "ch_1", Amount: 1}),
		"refund without id":   fs.AddRefund(fakestripe.Refund{Charge: "ch_1"}),
		"unknown charge":      fs.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_x"}),
		"no charge nor PI":    fs.AddRefund(fakestripe.Refund{ID: "re_1", Amount: 1}),
		"bad status":          fs.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Status: "done"}),
		"currency mismatch":   fs.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Currency: "usd"}),
		"PI mismatch":         fs.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", PaymentIntent: "pi_2"}),
		"reason not failed":   fs.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", FailureReason: "declined"}),
		"orphan needs amount": fs.AddRefund(fakestripe.Refund{ID: "re_1", PaymentIntent: "pi_9"}),
	}
	for name, err := range cases {
		if err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	must(t, fs.AddRefund(fakestripe.Refund{ID: "re_1", PaymentIntent: "pi_1", Currency: "EUR", Created: t0}))
	r, _ := fs.Refund("re_1")
	if r.Charge != "ch_1" || r.Amount != 100 || r.Currency != "eur" || r.PaymentIntent != "pi_1" || !r.Created.Equal(t0) {
		t.Fatalf("PI-only refund should link to its charge: %+v", r)
	}
	if err := fs.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 1}); err == nil {
		t.Error("duplicate refund accepted")
	}
	if err := fs.AddRefund(fakestripe.Refund{ID: "re_2", Charge: "ch_1"}); err == nil {
		t.Error("defaulted amount on a fully refunded charge accepted")
	}
	if c, ok := fs.Charge("ch_1"); !ok || c.Currency != "eur" {
		t.Errorf("Charge(): %+v", c)
	}
}

func TestBulkLoadOutOfOrderAndConcurrentReads(t *testing.T) {
	fs, srv, sc := start(t)
	const n = 5000
	charges := make([]fakestripe.Charge, n)
	refunds := make([]fakestripe.Refund, n)
	for i := range n {
		charges[i] = fakestripe.Charge{ID: fmt.Sprintf("ch_%d", i), Amount: 100, Created: t0}
		// created times deliberately not monotonic in insertion order
		refunds[i] = fakestripe.Refund{ID: fmt.Sprintf("re_%d", i), Charge: charges[i].ID, Amount: 50,
			Created: t0.Add(time.Duration((i*7919)%n) * time.Second)}
	}
	must(t, fs.AddCharges(charges))
	must(t, fs.AddRefunds(refunds[:n/2]))

	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := newClient(t, srv, testKey, 0)
			for k := 0; k < 20; k++ {
				p := &stripe.RefundListParams{}
				p.Limit = stripe.Int64(100)
				p.Single = true
				it := c.Refunds.List(p)
				prev := int64(1 << 62)
				for it.Next() {
					if it.Refund().Created > prev {
						errs <- fmt.Errorf("not newest first")
						return
					}
					prev = it.Refund().Created
				}
				if it.Err() != nil {
					errs <- it.Err()
					return
				}
			}
		}()
	}
	must(t, fs.AddRefunds(refunds[n/2:])) // concurrently with the readers
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}

	p := &stripe.RefundListParams{}
	p.Limit = stripe.Int64(100)
	it := sc.Refunds.List(p)
	got, err := collect(it, func() string { return it.Refund().ID })
	must(t, err)
	if len(got) != n {
		t.Fatalf("listed %d of %d", len(got), n)
	}
	seen := map[string]bool{}
	for _, id := range got {
		if seen[id] {
			t.Fatalf("duplicate %s", id)
		}
		seen[id] = true
	}
	// (i*7919)%n is a permutation, so created is unique: the newest is the
	// refund whose offset is n-1.
	for i := range n {
		if (i*7919)%n == n-1 && got[0] != fmt.Sprintf("re_%d", i) {
			t.Fatalf("newest = %s, want re_%d", got[0], i)
		}
	}
	if c, r, b, e := fs.Len(); c != n || r != n || b != n || e != 0 {
		t.Fatalf("Len: %d %d %d %d", c, r, b, e)
	}
}
