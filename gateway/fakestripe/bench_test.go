package fakestripe_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/stripe/stripe-go/v76"
)

// load fills fs with n charges and n refunds (one per charge), created one
// second apart, the way the demo does, and returns the refund ids.
func load(tb testing.TB, fs *fakestripe.Server, n int) []string {
	tb.Helper()
	const batch = 100_000
	ids := make([]string, 0, n)
	fs.Reserve(n, n)
	for off := 0; off < n; off += batch {
		m := min(batch, n-off)
		cs := make([]fakestripe.Charge, m)
		rs := make([]fakestripe.Refund, m)
		for j := range m {
			i := off + j
			num := fmt.Sprintf("%024d", i)
			at := t0.Add(time.Duration(i) * time.Second)
			cs[j] = fakestripe.Charge{ID: "ch_" + num, Customer: "cus_" + strconv.Itoa(i%50_000),
				PaymentIntent: "pi_" + num, Amount: 10_000, Currency: "usd", Created: at}
			rs[j] = fakestripe.Refund{ID: "re_" + num, Charge: cs[j].ID, Amount: int64(100 + i%900), Created: at.Add(time.Minute)}
			ids = append(ids, rs[j].ID)
		}
		must(tb, fs.AddCharges(cs))
		must(tb, fs.AddRefunds(rs))
	}
	return ids
}

func serve(b *testing.B, fs *fakestripe.Server, url string) {
	req := httptest.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	w := httptest.NewRecorder()
	fs.ServeHTTP(w, req)
	if w.Code != 200 {
		b.Fatalf("%s: %d %s", url, w.Code, w.Body.String())
	}
}

// BenchmarkList loads 100k refunds and lists pages of 100 in various ways.
func BenchmarkList(b *testing.B) {
	const n = 100_000
	fs := fakestripe.New(testKey)
	ids := load(b, fs, n)
	fs.Prepare()
	mid := t0.Add(n / 2 * time.Second).Unix()
	cases := []struct{ name, url string }{
		{"first_page", "/v1/refunds?limit=100"},
		{"starting_after_deep", "/v1/refunds?limit=100&starting_after=" + ids[n/3]},
		{"created_range", fmt.Sprintf("/v1/refunds?limit=100&created[gte]=%d&created[lt]=%d", mid, mid+3600)},
		{"expand_charge", "/v1/refunds?limit=100&expand[0]=data.charge"},
		{"by_charge", "/v1/refunds?charge=ch_" + fmt.Sprintf("%024d", n/2)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				serve(b, fs, c.url)
			}
			fs.ResetRequests()
		})
	}
	b.Run("stripe-go_over_http", func(b *testing.B) {
		srv := httptest.NewServer(fs)
		defer srv.Close()
		sc := newClient(b, srv, testKey, 0)
		b.ReportAllocs()
		for b.Loop() {
			p := &stripe.RefundListParams{}
			p.Limit = stripe.Int64(100)
			p.Single = true
			it := sc.Refunds.List(p)
			k := 0
			for it.Next() {
				k++
			}
			if it.Err() != nil || k != 100 {
				b.Fatalf("%d %v", k, it.Err())
			}
		}
		fs.ResetRequests()
	})
}

// BenchmarkLoad1M loads 1,000,000 charges and refunds per iteration and
// reports the heap retained by the fake. Run it with -benchtime=1x.
func BenchmarkLoad1M(b *testing.B) {
	const n = 1_000_000
	for b.Loop() {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		fs := fakestripe.New(testKey)
		start := time.Now()
		load(b, fs, n)
		loaded := time.Since(start)
		fs.Prepare()
		sorted := time.Since(start) - loaded
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MB-retained")
		b.ReportMetric(loaded.Seconds(), "s-load")
		b.ReportMetric(sorted.Seconds(), "s-sort")
		runtime.KeepAlive(fs)
	}
}
