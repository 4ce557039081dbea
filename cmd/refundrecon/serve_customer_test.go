package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// seedCustomer gives one customer n charges, each refunded refundsPer
// times (the ledger records each refund complete); every fifth charge's
// first refund failed weeks after it succeeded.
func seedCustomer(tb testing.TB, f *fakestripe.Server, db *store.DB, now time.Time, customer string, n, refundsPer int) {
	tb.Helper()
	day := 24 * time.Hour
	var rows []reconcile.LedgerRefund
	for i := range n {
		ch := fmt.Sprintf("ch_%s_%02d", customer, i)
		created := now.Add(-time.Duration(300-i) * day).Truncate(time.Second)
		if err := f.AddCharge(fakestripe.Charge{ID: ch, Customer: customer, Amount: int64(1000 * refundsPer), Currency: "usd", Created: created}); err != nil {
			tb.Fatal(err)
		}
		for j := range refundsPer {
			re, lr := fmt.Sprintf("re_%s_%02d_%d", customer, i, j), fmt.Sprintf("lr_%s_%02d_%d", customer, i, j)
			at := created.Add(time.Duration(j+1) * day)
			if err := f.AddRefund(fakestripe.Refund{ID: re, Charge: ch, Amount: 1000, Created: at, Metadata: map[string]string{"ledger_refund_id": lr}}); err != nil {
				tb.Fatal(err)
			}
			rows = append(rows, reconcile.LedgerRefund{ID: lr, CustomerID: customer, ChargeID: ch, GatewayRefundID: re, Amount: 1000,
				Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: at, CompletedAt: at})
			if i%5 == 0 && j == 0 {
				if err := f.FailRefund(re, "expired_or_canceled_card", at.Add(20*day)); err != nil {
					tb.Fatal(err)
				}
			}
		}
	}
	if err := db.InsertLedgerRefunds(context.Background(), rows); err != nil {
		tb.Fatal(err)
	}
}

// stripeCalls names the fake's requests by what they ask.
func stripeCalls(reqs []fakestripe.Request) map[string]int {
	calls := map[string]int{}
	for _, r := range reqs {
		kind := r.Path
		switch {
		case r.Path == "/v1/refunds" && r.Query.Get("charge") != "":
			kind = "list refunds of a charge"
		case r.Path == "/v1/refunds" && r.Query.Get("payment_intent") != "":
			kind = "list refunds of a payment intent"
		case r.Path == "/v1/refunds":
			kind = "list all refunds"
		case strings.HasPrefix(r.Path, "/v1/refunds/"):
			kind = "get a refund"
		case r.Path == "/v1/charges":
			kind = "list charges"
		case strings.HasPrefix(r.Path, "/v1/charges/"):
			kind = "get a charge"
		case r.Path == "/v1/balance_transactions":
			kind = "list refund failures"
		}
		calls[kind]++
	}
	return calls
}

// runDuration is the duration in a run's summary log line.
func runDuration(stderr string) time.Duration {
	for _, line := range strings.Split(stderr, "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) == nil && m["msg"] == "run finished" {
			d, _ := time.ParseDuration(m["duration"].(string))
			return d
		}
	}
	return 0
}

// customerCheck runs `customer ID` and returns the Stripe requests it made
// by kind, and its report.
func customerCheck(t *testing.T, w *world, customer string) (map[string]int, jsonReport) {
	t.Helper()
	w.stripe.ResetRequests()
	out, stderr, err := w.run("customer", customer, "--format", "json")
	if err != nil {
		t.Fatalf("customer %s: %v\n%s", customer, err, stderr)
	}
	return stripeCalls(w.stripe.Requests()), decodeReport(t, out)
}

func total(calls map[string]int) int {
	n := 0
	for _, c := range calls {
		n += c
	}
	return n
}

// The customer check's Stripe budget: at most 3 requests for a customer
// with 50 charges, however many refunds each has.
func TestCustomerStripeCallBudget(t *testing.T) {
	w := newWorld(t)
	w.env["STRIPE_MAX_RPS"] = "1000" // the budget, not the pace, is under test
	const charges = 50
	seedCustomer(t, w.stripe, w.db, w.now, "cus_one", charges, 1)
	seedCustomer(t, w.stripe, w.db, w.now, "cus_three", charges, 3)
	seedCustomer(t, w.stripe, w.db, w.now, "cus_small", 10, 1)

	one, rep := customerCheck(t, w, "cus_one")
	if got := len(rep.Discrepancies); got != charges/5 {
		t.Fatalf("cus_one: %d discrepancies, want %d (every fifth refund failed)", got, charges/5)
	}
	three, rep3 := customerCheck(t, w, "cus_three")
	small, _ := customerCheck(t, w, "cus_small")
	t.Logf("Stripe calls, 50 charges × 1 refund: %d %v", total(one), one)
	t.Logf("Stripe calls, 50 charges × 3 refunds: %d %v", total(three), three)
	t.Logf("Stripe calls, 10 charges × 1 refund: %d %v", total(small), small)
	if rep3.Counts.GatewayRefunds != 3*charges || len(rep3.Discrepancies) != charges/5 {
		t.Fatalf("cus_three: %d gateway refunds, %d discrepancies", rep3.Counts.GatewayRefunds, len(rep3.Discrepancies))
	}
	if one["list all refunds"] > 0 || three["list all refunds"] > 0 {
		t.Fatal("a customer check listed the account's refunds")
	}
	// One listing of the charges with their refunds expanded, and the
	// refund-failure sweep: at most 3 requests, whatever the refunds.
	for name, calls := range map[string]map[string]int{"cus_one": one, "cus_three": three, "cus_small": small} {
		if total(calls) > 3 || calls["list charges"] != 1 {
			t.Errorf("%s: %d Stripe calls %v, want the charges listing and the sweep (at most 3)", name, total(calls), calls)
		}
	}
}

// BenchmarkCustomerCheck50Charges times `refundrecon customer` for a
// customer with 50 charges against the fake Stripe, with the default
// STRIPE_MAX_RPS of 20, on loopback and with 150ms added to every Stripe
// answer (closer to the real API), and with that latency at 100 requests a
// second. It reports the Stripe calls and the
// median run duration (from the run's summary line) besides ns/op, which
// includes opening and migrating the database.
//
//	TEST_DATABASE_URL=… go test ./cmd/refundrecon -run '^$' -bench CustomerCheck50 -benchtime 7x
func BenchmarkCustomerCheck50Charges(b *testing.B) {
	dbURL := storetest.PostgresURL(b)
	fake := fakestripe.New(testKey)
	srv := httptest.NewServer(fake)
	defer srv.Close()
	env := map[string]string{"DATABASE_URL": dbURL, "STRIPE_API_KEY": testKey, "STRIPE_API_URL": srv.URL, "LOG_FORMAT": "json"}
	getenv := func(k string) string { return env[k] }
	if err := run(context.Background(), []string{"migrate", "--with-ledger"}, getenv, io.Discard, io.Discard); err != nil {
		b.Fatal(err)
	}
	seedCustomer(b, fake, storetest.Open(b, dbURL), time.Now().UTC(), "cus_bench", 50, 1)
	for _, c := range []struct {
		latency time.Duration
		rps     string
	}{{0, "20"}, {150 * time.Millisecond, "20"}, {150 * time.Millisecond, "100"}} {
		latency := c.latency
		b.Run("stripe_latency="+latency.String()+"/max_rps="+c.rps, func(b *testing.B) {
			env["STRIPE_MAX_RPS"] = c.rps
			fake.ClearFaults()
			if latency > 0 {
				fake.InjectFault(fakestripe.Fault{PathPrefix: "/v1/", Delay: latency, Count: 1 << 30})
			}
			var durations []time.Duration
			calls := 0
			for b.Loop() {
				fake.ResetRequests()
				var stderr bytes.Buffer
				if err := run(context.Background(), []string{"customer", "cus_bench"}, getenv, io.Discard, &stderr); err != nil {
					b.Fatalf("%v\n%s", err, stderr.String())
				}
				calls = len(fake.Requests())
				durations = append(durations, runDuration(stderr.String()))
			}
			slices.Sort(durations)
			b.ReportMetric(float64(calls), "stripe-calls/op")
			b.ReportMetric(float64(durations[len(durations)/2].Milliseconds()), "median-run-ms")
		})
	}
}
