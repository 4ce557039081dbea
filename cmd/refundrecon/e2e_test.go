package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

const testKey = "sk_test_refundrecon_e2e_4242"

// world is one end-to-end setting: a migrated PostgreSQL schema holding the
// ledger and the reconciler's state, and the fake Stripe over HTTP.
type world struct {
	t      *testing.T
	dbURL  string
	db     *store.DB
	stripe *fakestripe.Server
	url    string
	env    map[string]string
	now    time.Time
}

func newWorld(t *testing.T) *world {
	t.Helper()
	w := &world{t: t, dbURL: storetest.PostgresURL(t), stripe: fakestripe.New(testKey), now: time.Now().UTC()}
	srv := httptest.NewServer(w.stripe)
	t.Cleanup(srv.Close)
	w.url = srv.URL
	w.env = map[string]string{
		"DATABASE_URL":   w.dbURL,
		"STRIPE_API_KEY": testKey,
		"STRIPE_API_URL": w.url,
		"LOG_FORMAT":     "json",
	}
	if _, _, err := w.run("migrate", "--with-ledger"); err != nil {
		t.Fatalf("migrate: %v", err)
	}
	w.db = storetest.Open(t, w.dbURL)
	return w
}

func (w *world) getenv(k string) string { return w.env[k] }

// schema is the PostgreSQL schema that isolates this world.
func (w *world) schema() string {
	u, err := url.Parse(w.dbURL)
	if err != nil {
		w.t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

// run calls the program as main would, and returns stdout and stderr.
func (w *world) run(args ...string) (string, string, error) {
	var stdout, stderr bytes.Buffer
	err := run(context.Background(), args, w.getenv, &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func (w *world) ago(d time.Duration) time.Time { return w.now.Add(-d).Truncate(time.Second) }

func (w *world) charge(id, customer string, amount int64, currency string, created time.Time) {
	w.t.Helper()
	if err := w.stripe.AddCharge(fakestripe.Charge{ID: id, Customer: customer, PaymentIntent: "pi_" + strings.TrimPrefix(id, "ch_"),
		Amount: amount, Currency: currency, Created: created}); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) refund(r fakestripe.Refund) {
	w.t.Helper()
	if r.Currency == "" {
		r.Currency = "usd"
	}
	if err := w.stripe.AddRefund(r); err != nil {
		w.t.Fatal(err)
	}
}

func (w *world) ledger(rows ...reconcile.LedgerRefund) {
	w.t.Helper()
	if err := w.db.InsertLedgerRefunds(context.Background(), rows); err != nil {
		w.t.Fatal(err)
	}
}

// jsonReport is the contract's JSON run report, decoded strictly.
type jsonReport struct {
	RunID string `json:"run_id"`
	Scope struct {
		Since      string  `json:"since"`
		Until      string  `json:"until"`
		CustomerID *string `json:"customer_id"`
	} `json:"scope"`
	StartedAt  string `json:"started_at"`
	FinishedAt string `json:"finished_at"`
	Status     string `json:"status"`
	Error      string `json:"error"`
	Counts     struct {
		LedgerRefunds  int `json:"ledger_refunds"`
		GatewayRefunds int `json:"gateway_refunds"`
		Matched        int `json:"matched"`
		Discrepancies  int `json:"discrepancies"`
	} `json:"counts"`
	Discrepancies []map[string]any `json:"discrepancies"`
}

func decodeReport(t *testing.T, out string) jsonReport {
	t.Helper()
	var rep jsonReport
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&rep); err != nil {
		t.Fatalf("decode report: %v\n%s", err, out)
	}
	return rep
}

// triple is what a discrepancy is about: the exact set the test asserts.
func triples(rep jsonReport) []string {
	var out []string
	for _, d := range rep.Discrepancies {
		ledger := "-"
		if s, ok := d["ledger_refund_id"].(string); ok {
			ledger = s
		}
		var ids []string
		for _, id := range d["gateway_refund_ids"].([]any) {
			ids = append(ids, id.(string))
		}
		out = append(out, fmt.Sprintf("%s %s [%s]", d["kind"], ledger, strings.Join(ids, " ")))
	}
	sort.Strings(out)
	return out
}

var contractFields = []string{"id", "kind", "status", "new", "customer_id", "ledger_refund_id", "gateway_refund_ids",
	"charge_id", "currency", "ledger_amount", "gateway_amount", "gateway_status", "failure_reason", "detail",
	"first_seen_at", "last_seen_at"}

// seedScenario writes a ledger and a Stripe account holding every kind of
// the contract, and the cases that must not be reported.
func seedScenario(w *world) []string {
	day := 24 * time.Hour
	complete := func(id, customer, charge, re string, amount int64, at time.Time) reconcile.LedgerRefund {
		return reconcile.LedgerRefund{ID: id, CustomerID: customer, ChargeID: charge, GatewayRefundID: re, Amount: amount,
			Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: at.Add(-time.Minute), CompletedAt: at}
	}
	meta := func(id string) map[string]string { return map[string]string{"ledger_refund_id": id} }

	// Fine: matched by recorded id.
	w.charge("ch_ok", "cus_ok", 9000, "usd", w.ago(40*day))
	w.refund(fakestripe.Refund{ID: "re_ok", Charge: "ch_ok", Amount: 4500, Created: w.ago(10 * day), Metadata: meta("lr_ok")})
	w.ledger(complete("lr_ok", "cus_ok", "ch_ok", "re_ok", 4500, w.ago(10*day)))

	// missing_at_gateway: the recorded refund does not exist, nor any refund of its charge.
	w.charge("ch_missing", "cus_missing", 5000, "usd", w.ago(30*day))
	w.ledger(complete("lr_missing", "cus_missing", "ch_missing", "re_missing", 5000, w.ago(5*day)))

	// gateway_failed, failed at once.
	w.charge("ch_failed", "cus_failed", 3000, "usd", w.ago(30*day))
	w.refund(fakestripe.Refund{ID: "re_failed", Charge: "ch_failed", Amount: 3000, Status: "failed", FailureReason: "lost_or_stolen_card", Created: w.ago(12 * day)})
	w.ledger(complete("lr_failed", "cus_failed", "ch_failed", "re_failed", 3000, w.ago(12*day)))

	// gateway_failed weeks after it succeeded.
	w.charge("ch_late", "cus_late", 8000, "usd", w.ago(60*day))
	w.refund(fakestripe.Refund{ID: "re_late", Charge: "ch_late", Amount: 8000, Created: w.ago(40 * day), Metadata: meta("lr_late")})
	if err := w.stripe.FailRefund("re_late", "expired_or_canceled_card", w.ago(4*day)); err != nil {
		w.t.Fatal(err)
	}
	w.ledger(complete("lr_late", "cus_late", "ch_late", "re_late", 8000, w.ago(40*day)))

	// gateway_failed: created 200 days ago, before the window and its margin,
	// failed inside the window; found through the refund_failure balance transaction.
	w.charge("ch_ancient", "cus_ancient", 2500, "usd", w.ago(210*day))
	w.refund(fakestripe.Refund{ID: "re_ancient", Charge: "ch_ancient", Amount: 2500, Created: w.ago(200 * day)})
	if err := w.stripe.FailRefund("re_ancient", "expired_or_canceled_card", w.ago(6*day)); err != nil {
		w.t.Fatal(err)
	}
	w.ledger(complete("lr_ancient", "cus_ancient", "ch_ancient", "re_ancient", 2500, w.ago(200*day)))

	// Fine: a recorded refund created before the window, completed inside it.
	w.charge("ch_pre", "cus_pre", 1200, "usd", w.ago(140*day))
	w.refund(fakestripe.Refund{ID: "re_pre", Charge: "ch_pre", Amount: 1200, Created: w.ago(130 * day)})
	w.ledger(complete("lr_pre", "cus_pre", "ch_pre", "re_pre", 1200, w.ago(85*day)))

	// gateway_canceled.
	w.charge("ch_cancel", "cus_cancel", 700, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_cancel", Charge: "ch_cancel", Amount: 700, Status: "canceled", Created: w.ago(9 * day)})
	w.ledger(complete("lr_cancel", "cus_cancel", "ch_cancel", "re_cancel", 700, w.ago(9*day)))

	// duplicate_at_gateway: the recorded refund and a second one naming the ledger row.
	w.charge("ch_dup", "cus_dup", 2000, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_dup1", Charge: "ch_dup", Amount: 1000, Created: w.ago(8 * day), Metadata: meta("lr_dup")})
	w.refund(fakestripe.Refund{ID: "re_dup2", Charge: "ch_dup", Amount: 1000, Created: w.ago(8*day - time.Hour), Metadata: meta("lr_dup")})
	w.ledger(complete("lr_dup", "cus_dup", "ch_dup", "re_dup1", 1000, w.ago(8*day)))

	// gateway_pending_too_long.
	w.charge("ch_slow", "cus_slow", 1500, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_slow", Charge: "ch_slow", Amount: 1500, Status: "pending", Created: w.ago(10 * day)})
	w.ledger(complete("lr_slow", "cus_slow", "ch_slow", "re_slow", 1500, w.ago(10*day)))

	// currency_mismatch (and an amount mismatch in the detail).
	w.charge("ch_eur", "cus_eur", 4000, "eur", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_eur", Charge: "ch_eur", Amount: 4000, Currency: "eur", Created: w.ago(7 * day)})
	w.ledger(complete("lr_eur", "cus_eur", "ch_eur", "re_eur", 4100, w.ago(7*day)))

	// amount_mismatch.
	w.charge("ch_amount", "cus_amount", 6000, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_amount", Charge: "ch_amount", Amount: 4500, Created: w.ago(7 * day)})
	w.ledger(complete("lr_amount", "cus_amount", "ch_amount", "re_amount", 5000, w.ago(7*day)))

	// customer_mismatch: the charge belongs to another customer.
	w.charge("ch_other", "cus_b", 900, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_other", Charge: "ch_other", Amount: 900, Created: w.ago(6 * day)})
	w.ledger(complete("lr_other", "cus_a", "ch_other", "re_other", 900, w.ago(6*day)))

	// ledger_not_complete: the ledger still says pending; Stripe succeeded.
	w.charge("ch_lnc", "cus_lnc", 800, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_lnc", Charge: "ch_lnc", Amount: 800, Created: w.ago(3 * day), Metadata: meta("lr_lnc")})
	w.ledger(reconcile.LedgerRefund{ID: "lr_lnc", CustomerID: "cus_lnc", ChargeID: "ch_lnc", Amount: 800, Currency: "USD",
		Status: reconcile.LedgerPending, CreatedAt: w.ago(3 * day)})

	// missing_in_ledger: a refund nobody recorded.
	w.charge("ch_orphan", "cus_orphan", 1100, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_orphan", Charge: "ch_orphan", Amount: 1100, Created: w.ago(4 * day)})

	// invalid_ledger_row: a negative amount; its refund is matched, so not missing_in_ledger.
	w.charge("ch_bad", "cus_bad", 100, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_bad", Charge: "ch_bad", Amount: 100, Created: w.ago(5 * day)})
	w.ledger(complete("lr_bad", "cus_bad", "ch_bad", "re_bad", -100, w.ago(5*day)))

	// Fine: the gateway id was lost; the refund names the ledger row in metadata.
	w.charge("ch_meta", "cus_meta", 3300, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_meta", Charge: "ch_meta", Amount: 3300, Created: w.ago(5 * day), Metadata: meta("lr_meta")})
	w.ledger(complete("lr_meta", "cus_meta", "ch_meta", "", 3300, w.ago(5*day)))

	// Partial refunds of one charge matched by amount; a second equal refund
	// with no ledger row of its own is missing_in_ledger.
	w.charge("ch_part", "cus_part", 10000, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_part_a", Charge: "ch_part", Amount: 3000, Created: w.ago(9 * day)})
	w.refund(fakestripe.Refund{ID: "re_part_b", Charge: "ch_part", Amount: 2000, Created: w.ago(8 * day)})
	w.refund(fakestripe.Refund{ID: "re_part_c", Charge: "ch_part", Amount: 2000, Created: w.ago(2 * day)})
	w.ledger(
		complete("lr_part_a", "cus_part", "ch_part", "", 3000, w.ago(9*day)),
		complete("lr_part_b", "cus_part", "ch_part", "", 2000, w.ago(8*day)),
	)

	// Fine: a failed attempt next to its succeeded retry.
	w.charge("ch_retry", "cus_retry", 2600, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_try1", Charge: "ch_retry", Amount: 2600, Status: "failed", Created: w.ago(6 * day), Metadata: meta("lr_retry")})
	w.refund(fakestripe.Refund{ID: "re_try2", Charge: "ch_retry", Amount: 2600, Created: w.ago(5 * day), Metadata: meta("lr_retry")})
	w.ledger(complete("lr_retry", "cus_retry", "ch_retry", "re_try2", 2600, w.ago(5*day)))

	// Fine: inside the grace, on both sides.
	w.charge("ch_fresh", "cus_fresh", 500, "usd", w.ago(time.Hour))
	w.refund(fakestripe.Refund{ID: "re_fresh", Charge: "ch_fresh", Amount: 500, Created: w.ago(3 * time.Minute), Metadata: meta("lr_fresh")})
	w.refund(fakestripe.Refund{ID: "re_fresh_orphan", Charge: "ch_fresh", Amount: 200, Created: w.ago(2 * time.Minute)})
	w.ledger(reconcile.LedgerRefund{ID: "lr_fresh", CustomerID: "cus_fresh", ChargeID: "ch_fresh", Amount: 500, Currency: "usd",
		Status: reconcile.LedgerPending, CreatedAt: w.ago(4 * time.Minute)})

	return []string{
		"amount_mismatch lr_amount [re_amount]",
		"currency_mismatch lr_eur [re_eur]",
		"customer_mismatch lr_other [re_other]",
		"duplicate_at_gateway lr_dup [re_dup1 re_dup2]",
		"gateway_canceled lr_cancel [re_cancel]",
		"gateway_failed lr_ancient [re_ancient]",
		"gateway_failed lr_failed [re_failed]",
		"gateway_failed lr_late [re_late]",
		"gateway_pending_too_long lr_slow [re_slow]",
		"invalid_ledger_row lr_bad [re_bad]",
		"ledger_not_complete lr_lnc [re_lnc]",
		"missing_at_gateway lr_missing []",
		"missing_in_ledger - [re_orphan]",
		"missing_in_ledger - [re_part_c]",
	}
}

func TestRunEndToEnd(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)

	out, stderr, err := w.run("run", "--format", "json")
	if err != nil {
		t.Fatalf("run: %v\n%s", err, stderr)
	}
	rep := decodeReport(t, out)
	if got := triples(rep); !slices.Equal(got, want) {
		t.Fatalf("discrepancies:\n got  %s\n want %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	if rep.Status != "succeeded" || rep.Counts.Discrepancies != len(want) || rep.Scope.CustomerID != nil {
		t.Fatalf("report header: %+v", rep)
	}
	// Every kind of the contract is present.
	kinds := map[string]bool{}
	for _, d := range rep.Discrepancies {
		kinds[d["kind"].(string)] = true
		for _, f := range contractFields {
			if _, ok := d[f]; !ok {
				t.Errorf("discrepancy %s lacks field %q", d["id"], f)
			}
		}
		if d["new"] != true || d["status"] != "open" {
			t.Errorf("first run: %s new=%v status=%v", d["id"], d["new"], d["status"])
		}
		if detail, _ := d["detail"].(string); len(detail) < 20 {
			t.Errorf("detail %q is not a sentence", detail)
		}
	}
	for _, k := range reconcile.Kinds {
		if !kinds[string(k)] {
			t.Errorf("no %s in the scenario's report", k)
		}
	}
	// The late failure says when and why.
	for _, d := range rep.Discrepancies {
		if d["ledger_refund_id"] == "lr_late" {
			if d["failure_reason"] != "expired_or_canceled_card" || d["gateway_status"] != "failed" ||
				d["currency"] != "usd" || d["ledger_amount"] != 8000.0 || d["gateway_amount"] != 8000.0 ||
				d["charge_id"] != "ch_late" || d["customer_id"] != "cus_late" {
				t.Errorf("late failure: %v", d)
			}
		}
		if d["kind"] == "missing_at_gateway" && (d["gateway_amount"] != nil || d["gateway_status"] != nil || len(d["gateway_refund_ids"].([]any)) != 0) {
			t.Errorf("missing_at_gateway has gateway values: %v", d)
		}
	}
	// The adapter is read-only.
	for _, r := range w.stripe.Requests() {
		if r.Method != "GET" {
			t.Errorf("%s %s sent to Stripe", r.Method, r.Path)
		}
	}

	// A second run over the same data: the same discrepancies, known now.
	out, stderr, err = w.run("run", "--format", "json")
	if err != nil {
		t.Fatalf("second run: %v\n%s", err, stderr)
	}
	rep2 := decodeReport(t, out)
	if got := triples(rep2); !slices.Equal(got, want) {
		t.Fatalf("second run differs: %v", got)
	}
	ids := map[string]bool{}
	for i, d := range rep2.Discrepancies {
		if d["new"] != false || d["id"] != rep.Discrepancies[i]["id"] || d["first_seen_at"] != rep.Discrepancies[i]["first_seen_at"] {
			t.Errorf("second run: %v", d)
		}
		ids[d["id"].(string)] = true
	}
	stored, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(stored) != len(want) || len(ids) != len(want) {
		t.Fatalf("store holds %d discrepancies, want %d (no duplicates)", len(stored), len(want))
	}

	// The text report names every case.
	text, _, err := w.run("run")
	if err != nil {
		t.Fatal(err)
	}
	for id := range ids {
		if !strings.Contains(text, id) {
			t.Errorf("text report lacks %s", id)
		}
	}
	if strings.Contains(text+stderr, testKey) {
		t.Error("the Stripe key appears in the output")
	}
}

// Fixing the cause resolves a case; exit codes follow the contract.
func TestRunResolvesAndExitCodes(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	w.charge("ch_1", "cus_1", 4500, "usd", w.ago(20*day))
	w.refund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 4500, Created: w.ago(10 * day)})
	w.ledger(reconcile.LedgerRefund{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1", Amount: 4000,
		Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: w.ago(10 * day), CompletedAt: w.ago(10 * day)})

	_, _, err := w.run("run", "--exit-code")
	if got := exitCode(err, &bytes.Buffer{}); got != exitDiscrepancies {
		t.Fatalf("exit %d (%v), want 3", got, err)
	}
	if _, err := w.db.SQLX().Exec(`UPDATE ledger_refunds SET amount = 4500 WHERE id = 'lr_1'`); err != nil {
		t.Fatal(err)
	}
	out, _, err := w.run("run", "--exit-code", "--format", "json")
	if err != nil {
		t.Fatalf("exit %d (%v) after the fix", exitCode(err, &bytes.Buffer{}), err)
	}
	if rep := decodeReport(t, out); len(rep.Discrepancies) != 0 {
		t.Fatalf("after the fix: %v", triples(rep))
	}
	open, err := w.db.OpenDiscrepancies(context.Background(), "")
	if err != nil || len(open) != 0 {
		t.Fatalf("open after fix: %v %v", open, err)
	}
}

func TestRunFailsClosedOnBrokenListing(t *testing.T) {
	w := newWorld(t)
	want := seedScenario(w)
	if _, _, err := w.run("run"); err != nil {
		t.Fatal(err)
	}
	before, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}

	// The refunds of the missing case appear, but the listing now repeats
	// its cursor forever: the run must fail, and change nothing.
	w.refund(fakestripe.Refund{ID: "re_missing", Charge: "ch_missing", Amount: 5000, Created: w.ago(5 * 24 * time.Hour)})
	w.stripe.InjectFault(fakestripe.Fault{PathPrefix: "/v1/refunds", Count: 1000, RepeatCursor: true})
	out, stderr, err := w.run("run", "--format", "json")
	if got := exitCode(err, &bytes.Buffer{}); got != exitRunFailed {
		t.Fatalf("exit %d (%v), want 1\n%s", got, err, stderr)
	}
	rep := decodeReport(t, out)
	if rep.Status != "failed" || len(rep.Discrepancies) != 0 || rep.Error == "" {
		t.Fatalf("failed run report: %+v", rep)
	}
	after, err := w.db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) || len(after) != len(want) {
		t.Fatalf("a failed run changed the cases: %d before, %d after", len(before), len(after))
	}
	for i := range before {
		if before[i].ID != after[i].ID || before[i].Status != after[i].Status || !before[i].LastSeenAt.Equal(after[i].LastSeenAt) {
			t.Fatalf("case changed by a failed run: %+v -> %+v", before[i], after[i])
		}
	}
	stored, err := w.db.Run(context.Background(), rep.RunID)
	if err != nil || stored.Status != reconcile.RunFailed {
		t.Fatalf("failed run stored as %+v (%v)", stored, err)
	}
}

func TestConfigurationErrors(t *testing.T) {
	w := newWorld(t)
	tests := []struct {
		name string
		env  map[string]string
		args []string
		code int
		says string
	}{
		{"no key", map[string]string{"STRIPE_API_KEY": ""}, []string{"run"}, exitUsage, "STRIPE_API_KEY is not set"},
		{"not a key", map[string]string{"STRIPE_API_KEY": "pk_test_123"}, []string{"run"}, exitUsage, "not a secret"},
		{"key refused", map[string]string{"STRIPE_API_KEY": "sk_test_revoked_9999"}, []string{"run"}, exitRunFailed, "refused"},
		{"bad since", nil, []string{"run", "--since", "yesterday"}, exitUsage, "--since"},
		{"since after until", nil, []string{"run", "--since", "1h", "--until", "2h"}, exitUsage, "not before"},
		{"bad format", nil, []string{"run", "--format", "xml"}, exitUsage, "xml"},
		{"unknown flag", nil, []string{"run", "--bogus"}, exitUsage, "bogus"},
		{"unknown command", nil, []string{"frobnicate"}, exitUsage, "frobnicate"},
		{"bad rps", map[string]string{"STRIPE_MAX_RPS": "fast"}, []string{"run"}, exitUsage, "STRIPE_MAX_RPS"},
		{"bad database scheme", map[string]string{"DATABASE_URL": "mysql://u:hunter2@x/db"}, []string{"run"}, exitUsage, "mysql"},
		{"ledger query missing a column", map[string]string{"LEDGER_QUERY": "SELECT id, customer_id, charge_id, payment_intent_id, gateway_refund_id, amount, status, completed_at, created_at FROM ledger_refunds"},
			[]string{"run"}, exitUsage, "currency"},
		{"customer without id", nil, []string{"customer"}, exitUsage, "customer id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{}
			for k, v := range w.env {
				env[k] = v
			}
			for k, v := range tt.env {
				env[k] = v
			}
			var stdout, stderr bytes.Buffer
			err := run(context.Background(), tt.args, func(k string) string { return env[k] }, &stdout, &stderr)
			code := exitCode(err, &stderr)
			if code != tt.code {
				t.Fatalf("exit %d, want %d: %v\n%s", code, tt.code, err, stderr.String())
			}
			if !strings.Contains(stderr.String(), tt.says) {
				t.Errorf("stderr does not say %q:\n%s", tt.says, stderr.String())
			}
			for _, secret := range []string{"hunter2", env["STRIPE_API_KEY"]} {
				if secret != "" && len(secret) > 8 && strings.Contains(stdout.String()+stderr.String(), secret) {
					t.Errorf("output shows the secret %q", secret)
				}
			}
		})
	}
}

func TestCustomerVerdict(t *testing.T) {
	w := newWorld(t)
	day := 24 * time.Hour
	w.charge("ch_1", "cus_1", 4500, "usd", w.ago(400*day))
	w.charge("ch_2", "cus_1", 2000, "usd", w.ago(300*day))
	w.refund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 4500, Created: w.ago(390 * day)})
	if err := w.stripe.FailRefund("re_1", "expired_or_canceled_card", w.ago(360*day)); err != nil {
		t.Fatal(err)
	}
	w.refund(fakestripe.Refund{ID: "re_2", Charge: "ch_2", Amount: 2000, Created: w.ago(290 * day), Metadata: map[string]string{"ledger_refund_id": "lr_2"}})
	w.ledger(
		reconcile.LedgerRefund{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1", Amount: 4500, Currency: "usd",
			Status: reconcile.LedgerComplete, CreatedAt: w.ago(390 * day), CompletedAt: w.ago(390 * day)},
		reconcile.LedgerRefund{ID: "lr_2", CustomerID: "cus_1", ChargeID: "ch_2", Amount: 2000, Currency: "usd",
			Status: reconcile.LedgerComplete, CreatedAt: w.ago(290 * day), CompletedAt: w.ago(290 * day)},
	)
	out, stderr, err := w.run("customer", "cus_1")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, s := range []string{"cus_1", "1 problem", "did NOT reach the customer", "re_1", "expired_or_canceled_card"} {
		if !strings.Contains(out, s) {
			t.Errorf("verdict lacks %q:\n%s", s, out)
		}
	}
	out, _, err = w.run("customer", "cus_1", "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	rep := decodeReport(t, out)
	if got := triples(rep); !slices.Equal(got, []string{"gateway_failed lr_1 [re_1]"}) || rep.Scope.CustomerID == nil || *rep.Scope.CustomerID != "cus_1" {
		t.Fatalf("customer report: %v %+v", got, rep.Scope)
	}
	// The customer check reads that customer's charges, never the account's refund listing.
	for _, r := range w.stripe.Requests() {
		if r.Path == "/v1/refunds" && r.Query.Get("charge") == "" && r.Query.Get("payment_intent") == "" {
			t.Errorf("customer check listed all refunds: %s?%s", r.Path, r.Query.Encode())
		}
	}
}
