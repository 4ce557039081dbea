package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// The incremental sync end to end: the real stripe-go client against the
// fake over HTTP, the state on PostgreSQL and on SQLite.

// syncWorld is newWorld on a database of choice, with events of creations
// on and a rate that does not slow the test down.
func syncWorld(t *testing.T, dbURL string) *world {
	t.Helper()
	w := &world{t: t, dbURL: dbURL, stripe: fakestripe.New(testKey), now: time.Now().UTC()}
	srv := httptest.NewServer(w.stripe)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	w.env = map[string]string{
		"DATABASE_URL":   w.dbURL,
		"STRIPE_API_KEY": testKey,
		"STRIPE_API_URL": w.url,
		"STRIPE_MAX_RPS": "1000",
		"LOG_FORMAT":     "json",
	}
	if _, _, err := w.run("migrate", "--with-ledger"); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	w.db = storetest.Open(t, w.dbURL)
	return w
}

// syncBackends are the state databases the tests run on: each returns the
// URL of an empty database.
var syncBackends = []struct {
	name string
	url  func(testing.TB) string
}{
	{"postgres", storetest.PostgresURL},
	{"sqlite", storetest.SQLiteURL},
}

// filler adds n refunds created 100 days ago: inside the read margin of the
// default 90-day window, so a full listing reads them, but outside the
// window, so no report names them. They make the full listing long.
func filler(w *world, n int) []string {
	w.t.Helper()
	at := w.ago(100 * 24 * time.Hour)
	charges := make([]fakestripe.Charge, n)
	refunds := make([]fakestripe.Refund, n)
	ids := make([]string, n)
	for i := range n {
		ch := fmt.Sprintf("ch_fill_%d", i)
		charges[i] = fakestripe.Charge{ID: ch, Customer: fmt.Sprintf("cus_fill_%d", i%50), Amount: 1000, Currency: "usd", Created: at}
		ids[i] = fmt.Sprintf("re_fill_%d", i)
		refunds[i] = fakestripe.Refund{ID: ids[i], Charge: ch, Amount: 1000, Created: at.Add(time.Duration(i) * time.Second)}
	}
	if err := w.stripe.AddCharges(charges); err != nil {
		w.t.Fatal(err)
	}
	if err := w.stripe.AddRefunds(refunds); err != nil {
		w.t.Fatal(err)
	}
	return ids
}

// runJSON runs `run --format json` with args and returns the report and the
// number of Stripe requests it made.
func runJSON(t *testing.T, w *world, args ...string) (jsonReport, string, int) {
	t.Helper()
	w.stripe.ResetRequests()
	out, stderr, err := w.run(append([]string{"run", "--format", "json"}, args...)...)
	if err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, stderr)
	}
	return decodeReport(t, out), out, len(w.stripe.Requests())
}

// judged is what a report says of each discrepancy, without what depends on
// the state's history (ids, new, first and last seen, status).
func judged(t *testing.T, out string) []string {
	t.Helper()
	var rep struct {
		Counts        map[string]int   `json:"counts"`
		Discrepancies []map[string]any `json:"discrepancies"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range rep.Discrepancies {
		for _, f := range []string{"id", "new", "first_seen_at", "last_seen_at", "status"} {
			delete(d, f)
		}
		b, err := json.Marshal(d) // sorted keys
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, string(b))
	}
	slices.Sort(got)
	return append(got, fmt.Sprintf("counts %v", rep.Counts))
}

// freshFullRun runs over the same ledger and Stripe with an empty state
// database: a full listing, the reference every incremental run must match.
func freshFullRun(t *testing.T, w *world, fresh string) string {
	t.Helper()
	env := w.env
	defer func() { w.env = env }()
	w.env = map[string]string{}
	for k, v := range env {
		w.env[k] = v
	}
	w.env["LEDGER_DATABASE_URL"] = w.dbURL
	w.env["DATABASE_URL"] = fresh
	_, out, _ := runJSON(t, w)
	return out
}

// changeWorld changes Stripe between runs: a new refund nobody recorded, a
// pending refund that succeeds, metadata added, and a late failure that,
// with events off, only its refund_failure balance transaction shows.
func changeWorld(t *testing.T, w *world) {
	t.Helper()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	w.charge("ch_new", "cus_new", 4200, "usd", w.ago(time.Hour))
	// Created a few seconds ago (after the last sync, past the grace).
	w.refund(fakestripe.Refund{ID: "re_new", Charge: "ch_new", Amount: 4200, Created: time.Now().Add(-5 * time.Second)})
	must(w.stripe.SetRefundStatus("re_slow", "succeeded", time.Time{}))
	must(w.stripe.SetRefundMetadata("re_orphan", map[string]string{"ledger_refund_id": "lr_orphan"}, time.Time{}))
	w.ledger(reconcile.LedgerRefund{ID: "lr_orphan", CustomerID: "cus_orphan", Amount: 1100, Currency: "usd",
		Status: reconcile.LedgerComplete, CreatedAt: w.ago(4 * 24 * time.Hour), CompletedAt: w.ago(4 * 24 * time.Hour)})
	w.stripe.SetEvents(false)
	must(w.stripe.FailRefund("re_ok", "expired_or_canceled_card", time.Time{}))
	w.stripe.SetEvents(true)
}

func TestIncrementalSyncMatchesFullListing(t *testing.T) {
	for _, b := range syncBackends {
		t.Run(b.name, func(t *testing.T) {
			w := syncWorld(t, b.url(t))
			want := seedScenario(w)
			filler(w, 20_000)
			w.stripe.SetCreateEvents(true)

			first, firstOut, n1 := runJSON(t, w)
			if got := triples(first); !slices.Equal(got, want) {
				t.Fatalf("first run:\n got  %v\n want %v", got, want)
			}
			// Over unchanged data: a tenth of the requests at most, the
			// same report.
			second, secondOut, n2 := runJSON(t, w)
			if n2*10 > n1 {
				t.Fatalf("second run made %d Stripe requests, the first %d: more than a tenth\n%v", n2, n1, w.stripe.RequestCounts())
			}
			if g, f := judged(t, secondOut), judged(t, firstOut); !slices.Equal(g, f) {
				t.Fatalf("second run over unchanged data differs:\n%s", diff(g, f))
			}
			if second.Counts != first.Counts {
				t.Fatalf("counts %+v, first %+v", second.Counts, first.Counts)
			}
			t.Logf("requests: first %d, second %d", n1, n2)

			// The world changes; the incremental run reports what a full
			// listing on a fresh state reports.
			// A grace of a second, so the refund created now is judged.
			w.env["GRACE"] = "1s"
			changeWorld(t, w)
			_, incOut, n3 := runJSON(t, w)
			if n3*10 > n1 {
				t.Fatalf("incremental run made %d requests, the first %d", n3, n1)
			}
			full := freshFullRun(t, w, b.url(t))
			if g, f := judged(t, incOut), judged(t, full); !slices.Equal(g, f) {
				t.Fatalf("incremental run differs from a full listing:\n%s", diff(g, f))
			}
			got := strings.Join(judged(t, incOut), "\n")
			for _, s := range []string{`"gateway_refund_ids":["re_new"],"gateway_status":"succeeded","kind":"missing_in_ledger"`,
				`"gateway_refund_ids":["re_ok"],"gateway_status":"failed","kind":"gateway_failed"`} {
				if !strings.Contains(got, s) {
					t.Errorf("the incremental report lacks %s:\n%s", s, got)
				}
			}
			for _, s := range []string{`"re_slow"`, `"re_orphan"`} {
				if strings.Contains(got, s) {
					t.Errorf("the incremental report still names %s:\n%s", s, got)
				}
			}

			// --full lists the whole window again.
			w.stripe.ResetRequests()
			_, fullOut, n4 := runJSON(t, w, "--full")
			if lists, firstLists := w.stripe.RequestCounts()["GET /v1/refunds"], n1/2; n4 < n1*9/10 || lists < firstLists {
				t.Fatalf("--full made %d requests (%d refund listings), the first run %d", n4, lists, n1)
			}
			if g, f := judged(t, fullOut), judged(t, incOut); !slices.Equal(g, f) {
				t.Fatalf("--full differs from the incremental run:\n%s", diff(g, f))
			}
		})
	}
}

// A sync that fails half way changes no cursor; the next run is still
// exactly what a full listing reports.
func TestFailedSyncKeepsCursor(t *testing.T) {
	w := syncWorld(t, storetest.SQLiteURL(t))
	seedScenario(w)
	fill := filler(w, 1000)
	runJSON(t, w)
	ctx := context.Background()
	name := syncName(&settings{StripeAPIURL: w.url})
	before, ok, err := w.db.SyncCursor(ctx, name)
	if err != nil || !ok {
		t.Fatalf("no cursor after a run: %v", err)
	}

	changeWorld(t, w)
	// 600 metadata changes: more than a batch, saved before the fault.
	for _, id := range fill[:600] {
		if err := w.stripe.SetRefundMetadata(id, map[string]string{"note": "x"}, time.Time{}); err != nil {
			t.Fatal(err)
		}
	}
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/balance_transactions", Count: 100, Status: 200, Body: `{"object":"list","data":[{"id":"txn_`})
	w.stripe.ResetRequests()
	out, _, err := w.run("run", "--format", "json")
	if err == nil {
		t.Fatal("the run succeeded through a malformed balance transactions page")
	}
	if rep := decodeReport(t, out); rep.Status != "failed" {
		t.Fatalf("status %s", rep.Status)
	}
	if w.stripe.RequestCounts()["GET /v1/events"] == 0 {
		t.Fatal("the sync failed before reading events: not half way")
	}
	after, _, err := w.db.SyncCursor(ctx, name)
	if err != nil || after != before {
		t.Fatalf("a failed sync moved the cursor from %+v to %+v (%v)", before, after, err)
	}
	w.stripe.ClearFaults()

	_, incOut, _ := runJSON(t, w)
	full := freshFullRun(t, w, storetest.SQLiteURL(t))
	if g, f := judged(t, incOut), judged(t, full); !slices.Equal(g, f) {
		t.Fatalf("the run after a failed sync differs from a full listing:\n%s", diff(g, f))
	}
	if c, _, _ := w.db.SyncCursor(ctx, name); !c.SyncedAt.After(before.SyncedAt) || c.FullAt != before.FullAt {
		t.Fatalf("after a good incremental sync: cursor %+v, before %+v", c, before)
	}
}

// The sync decisions: FULL_SYNC_EVERY, a wider window and --full each list
// the whole window; otherwise a run reads only changes.
func TestFullSyncWhenDue(t *testing.T) {
	w := syncWorld(t, storetest.SQLiteURL(t))
	seedScenario(w)
	filler(w, 2000)
	_, _, n1 := runJSON(t, w)
	full := func(args ...string) bool {
		t.Helper()
		_, _, n := runJSON(t, w, args...)
		return n*2 > n1
	}
	if full() {
		t.Fatal("a second run listed the whole window")
	}
	w.env["FULL_SYNC_EVERY"] = "1ns"
	if !full() {
		t.Fatal("FULL_SYNC_EVERY=1ns did not list the whole window")
	}
	w.env["FULL_SYNC_EVERY"] = "168h"
	if full() {
		t.Fatal("a run after a full sync listed the whole window")
	}
	if !full("--since", "2400h") {
		t.Fatal("a window reaching before the mirror did not list the whole window")
	}
	if !full("--full") {
		t.Fatal("--full did not list the whole window")
	}
	if full() {
		t.Fatal("a run after --full listed the whole window")
	}
}

// diff lists the lines only one side has.
func diff(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			b.WriteString("+ " + g + "\n")
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			b.WriteString("- " + w + "\n")
		}
	}
	return b.String()
}
