package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// Transient gateway faults are retried within budget and the report is the
// one a clean gateway gives.
func TestRunSurvivesTransientGatewayFaults(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Count: 2, Status: 429, RetryAfter: "1"})
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Count: 1, Status: 429})
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/balance_transactions", Count: 2, Status: 503})
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds/", Count: 1, Status: 502})
	out, stderr, err := w.run("run", "--format", "json")
	if err != nil {
		t.Fatalf("run under transient faults: %v\n%s", err, stderr)
	}
	if got := triples(decodeReport(t, out)); !slices.Equal(got, want) {
		t.Fatalf("report under faults differs:\n got  %v\n want %v", got, want)
	}
	statuses := map[int]int{}
	for _, r := range w.stripe.Requests() {
		statuses[r.Status]++
	}
	if statuses[429] != 3 || statuses[503] != 2 || statuses[502] != 1 {
		t.Fatalf("faults seen by the gateway: %v", statuses)
	}
}

// A malformed page is never a short page: the run fails, nothing changes.
func TestRunFailsOnMalformedPage(t *testing.T) {
	w := newWorld(t)
	seedScenario(w)
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Count: 100, Status: 200, Body: `{"object":"list","data":[{"id":"re_`})
	out, _, err := w.run("run", "--format", "json")
	if exitCode(err, &bytes.Buffer{}) != exitRunFailed {
		t.Fatalf("exit %d (%v)", exitCode(err, &bytes.Buffer{}), err)
	}
	if rep := decodeReport(t, out); rep.Status != "failed" || len(rep.Discrepancies) != 0 {
		t.Fatalf("report %+v", rep)
	}
	if ds, _ := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{}); len(ds) != 0 {
		t.Fatalf("a failed run stored %d cases", len(ds))
	}
}

func withParam(t *testing.T, raw, key, value string) string {
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set(key, value)
	u.RawQuery = q.Encode()
	return u.String()
}

// A ledger query that runs into the database's statement timeout fails the
// run with the database's reason, and known cases stay as they were.
func TestRunStatementTimeout(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)
	if _, _, err := w.run("run"); err != nil {
		t.Fatal(err)
	}
	w.env["LEDGER_DATABASE_URL"] = withParam(t, w.dbURL, "statement_timeout", "300")
	w.env["LEDGER_QUERY"] = "SELECT l.*, pg_sleep(2) AS slow FROM ledger_refunds l"
	_, stderr, err := w.run("run")
	if exitCode(err, &bytes.Buffer{}) != exitRunFailed || !strings.Contains(err.Error(), "statement timeout") {
		t.Fatalf("exit %d: %v\n%s", exitCode(err, &bytes.Buffer{}), err, stderr)
	}
	ds, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	if err != nil || len(ds) != len(want) {
		t.Fatalf("cases after a failed run: %d (%v), want %d", len(ds), err, len(want))
	}
	for _, d := range ds {
		if d.Status != "open" {
			t.Fatalf("case %s is %s after a failed run", d.ID, d.Status)
		}
	}
}

// The ledger can be read with a role that may only SELECT it.
func TestRunWithReadOnlyLedgerRole(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)
	var b [4]byte
	_, _ = rand.Read(b[:])
	role := "rr_ledger_ro_" + hex.EncodeToString(b[:])
	schema := w.schema()
	sqlx := w.db.SQLX()
	for _, q := range []string{
		"CREATE ROLE " + role + " LOGIN",
		"GRANT USAGE ON SCHEMA " + schema + " TO " + role,
		"GRANT SELECT ON " + schema + ".ledger_refunds TO " + role,
	} {
		if _, err := sqlx.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	t.Cleanup(func() {
		_, _ = sqlx.Exec("DROP OWNED BY " + role)
		_, _ = sqlx.Exec("DROP ROLE " + role)
	})
	u, _ := url.Parse(w.dbURL)
	u.User = url.User(role)
	w.env["LEDGER_DATABASE_URL"] = u.String()
	out, stderr, err := w.run("run", "--format", "json")
	if err != nil {
		t.Fatalf("run with a read-only ledger role: %v\n%s", err, stderr)
	}
	if got := triples(decodeReport(t, out)); !slices.Equal(got, want) {
		t.Fatalf("got %v", got)
	}
	ro, err := store.Open(context.Background(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	defer ro.Close()
	if _, err := ro.SQLX().Exec("DELETE FROM ledger_refunds"); err == nil {
		t.Fatal("the read-only role could write the ledger: the test proves nothing")
	}
}

// The database drops every connection of the run in the middle of it (what
// a restart does): the run resumes on new connections or fails cleanly, and
// the next run gives the right answer.
func TestRunDatabaseConnectionsDroppedMidRun(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)
	app := "rr_fault_" + w.schema()
	w.env["DATABASE_URL"] = withParam(t, w.dbURL, "application_name", app)
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Count: 1, Delay: 1500 * time.Millisecond})
	killed := make(chan int64, 1)
	go func() {
		// Drop the connections once the run is inside the slow listing
		// (seen by the fake), not after a fixed 500 ms that a loaded machine
		// may spend before the run even starts.
		// (No t.Fatal off the test's goroutine: a run that never lists
		// drops nothing, which the test reports below.)
		deadline, stop := nearDeadline(t, 10*time.Second)
		defer stop()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
	wait:
		for {
			for _, r := range w.stripe.Requests() {
				if strings.HasPrefix(r.Path, "/v1/refunds") {
					break wait
				}
			}
			select {
			case <-deadline:
				killed <- 0
				return
			case <-tick.C:
			}
		}
		var n int64
		_ = w.db.SQLX().Get(&n, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE application_name = $1`, app)
		killed <- n
	}()
	out, _, err := w.run("run", "--format", "json")
	if n := <-killed; n == 0 {
		t.Fatal("no connection of the run was dropped: the test proves nothing")
	}
	rep := decodeReport(t, out)
	switch {
	case err == nil:
		if got := triples(rep); !slices.Equal(got, want) {
			t.Fatalf("resumed run: %v", got)
		}
	case exitCode(err, &bytes.Buffer{}) == exitRunFailed:
		if rep.Status != "failed" {
			t.Fatalf("failed run reported %q", rep.Status)
		}
	default:
		t.Fatalf("exit %d: %v", exitCode(err, &bytes.Buffer{}), err)
	}
	out, stderr, err := w.run("run", "--format", "json")
	if err != nil {
		t.Fatalf("the run after the drop: %v\n%s", err, stderr)
	}
	if got := triples(decodeReport(t, out)); !slices.Equal(got, want) {
		t.Fatalf("the run after the drop: %v", got)
	}
}

// A proxy in front of Stripe answers its own HTML 404 page for refund
// look-ups: that is not Stripe saying "no such refund". The run fails (exit
// 1, status failed), invents no missing_at_gateway, and the known
// gateway_failed case stays as it was.
func TestRunFailsOnProxyNotFoundPage(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	w.charge("ch_old", "cus_1", 4500, "usd", w.ago(200*day))
	w.refund(fakestripe.Refund{ID: "re_old", Charge: "ch_old", Amount: 4500, Created: w.ago(200 * day)})
	if err := w.stripe.FailRefund("re_old", "expired_or_canceled_card", w.ago(5*day)); err != nil {
		t.Fatal(err)
	}
	// The ledger names only the refund: its charge was not recorded.
	w.ledger(reconcile.LedgerRefund{ID: "lr_old", CustomerID: "cus_1", GatewayRefundID: "re_old", Amount: 4500, Currency: "usd",
		Status: reconcile.LedgerComplete, CreatedAt: w.ago(10 * day), CompletedAt: w.ago(10 * day)})
	out, stderr, err := w.run("run", "--format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if got := triples(decodeReport(t, out)); !slices.Equal(got, []string{"gateway_failed lr_old [re_old]"}) {
		t.Fatalf("first run: %v", got)
	}
	before, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	if err != nil || len(before) != 1 {
		t.Fatalf("cases: %v (%v)", before, err)
	}

	w.stripe.ResetRequests()
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds/", HTML: true, Status: 404, RetryAfter: "0.01", Count: 1000})
	out, stderr, err = w.run("run", "--format", "json")
	if got := exitCode(err, &bytes.Buffer{}); got != exitRunFailed {
		t.Fatalf("exit %d (%v), want 1\n%s", got, err, stderr)
	}
	rep := decodeReport(t, out)
	if rep.Status != "failed" || len(rep.Discrepancies) != 0 || !strings.Contains(rep.Error, "without a Stripe error body") {
		t.Fatalf("run behind a proxy 404 page: %+v", rep)
	}
	retried := 0
	for _, r := range w.stripe.Requests() {
		if strings.HasPrefix(r.Path, "/v1/refunds/") && r.Status == 404 {
			retried++
		}
	}
	if retried < 2 {
		t.Errorf("the 404 page was asked %d times, want it retried", retried)
	}
	after, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	if err != nil || len(after) != 1 {
		t.Fatalf("cases after: %+v (%v)", after, err)
	}
	if a, b := after[0], before[0]; a.ID != b.ID || a.Kind != reconcile.GatewayFailed || a.Status != b.Status || !a.LastSeenAt.Equal(b.LastSeenAt) {
		t.Fatalf("the proxy's page changed the case: %+v -> %+v", b, a)
	}
}
