package fakestripe_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
)

// TestLimitRate: beyond its endpoint's bucket or the account's, a request
// gets Stripe's 429 rate_limit answer; the buckets refill with the clock.
func TestLimitRate(t *testing.T) {
	f := fakestripe.New("")
	srv := httptest.NewServer(f)
	defer srv.Close()
	now := time.Unix(1_800_000_000, 0)
	f.LimitRate(fakestripe.RateLimit{PerEndpoint: 2, Global: 3}, func() time.Time { return now })
	get := func(path string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if resp.StatusCode == http.StatusTooManyRequests {
			var b strings.Builder
			buf := make([]byte, 512)
			n, _ := resp.Body.Read(buf)
			b.Write(buf[:n])
			if !strings.Contains(b.String(), `"code":"rate_limit"`) {
				t.Errorf("429 body: %s", b.String())
			}
		}
		return resp.StatusCode
	}
	got := []int{get("/v1/refunds"), get("/v1/refunds/re_x"), get("/v1/refunds"), get("/v1/charges"), get("/v1/events")}
	want := []int{200, 404, 429, 200, 429} // refunds: 2 a second; the account: 3
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("statuses %v, want %v", got, want)
		}
	}
	now = now.Add(time.Second)
	if s := get("/v1/refunds"); s != 200 {
		t.Fatalf("after a second: %d", s)
	}
	counts := f.RequestCounts()
	if counts["GET /v1/refunds"] != 3 || counts["GET /v1/refunds/:id"] != 1 || counts["GET /v1/events"] != 1 {
		t.Fatalf("counts %v", counts)
	}
	f.LimitRate(fakestripe.RateLimit{}, nil)
	for range 5 {
		if s := get("/v1/refunds"); s != 200 {
			t.Fatalf("without limits: %d", s)
		}
	}
}
