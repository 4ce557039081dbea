package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/store/storetest"
)

// eachStateDB runs f in a world on PostgreSQL and one on SQLite.
func eachStateDB(t *testing.T, f func(t *testing.T, w *world)) {
	t.Run("postgres", func(t *testing.T) { f(t, newWorld(t)) })
	t.Run("sqlite", func(t *testing.T) { f(t, newSQLiteWorld(t)) })
}

// misconfiguredShop is the first run: the shop's own table read
// through a plausible but wrong LEDGER_QUERY (its states REFUNDED as
// status, its amounts in dollars): every row is invalid. Stripe has the n
// refunds, plus orphans no ledger row names. It returns how many new
// discrepancies a run opens.
func misconfiguredShop(t *testing.T, w *world, n, orphans int) int {
	t.Helper()
	ts := "timestamptz"
	if w.db.Dialect() == store.DialectSQLite {
		ts = "text"
	}
	x := w.db.SQLX()
	if _, err := x.Exec(`CREATE TABLE shop_refunds (id text PRIMARY KEY, customer_id text, charge_id text, payment_intent_id text,
		gateway_refund_id text, amount_major numeric(12,2), currency text, state text, completed_at ` + ts + `, created_at ` + ts + `)`); err != nil {
		t.Fatal(err)
	}
	day := 24 * time.Hour
	for i := range n + orphans {
		ch, re := fmt.Sprintf("ch_%04d", i), fmt.Sprintf("re_%04d", i)
		w.charge(ch, "cus_shop", 9000, "usd", w.ago(20*day))
		w.refund(fakestripe.Refund{ID: re, Charge: ch, Amount: 4599, Created: w.ago(10 * day)})
		if i >= n {
			continue // an orphan: Stripe's refund with no ledger row
		}
		at := any(w.ago(10 * day))
		if w.db.Dialect() == store.DialectSQLite {
			at = w.ago(10 * day).UTC().Format("2006-01-02T15:04:05.000000Z")
		}
		if _, err := x.Exec(x.Rebind(`INSERT INTO shop_refunds VALUES (?, 'cus_shop', ?, NULL, ?, 45.99, 'usd', 'REFUNDED', ?, ?)`),
			fmt.Sprintf("sr_%04d", i), ch, re, at, at); err != nil {
			t.Fatal(err)
		}
	}
	w.env["LEDGER_QUERY"] = `SELECT id, customer_id, charge_id, payment_intent_id, gateway_refund_id,
	amount_major AS amount, currency, state AS status, completed_at, created_at
FROM shop_refunds WHERE created_at >= :since AND created_at <= :until`
	return n + orphans
}

// runID is the run_id of a JSON run report.
func runID(t *testing.T, out string) string {
	t.Helper()
	var rep struct {
		RunID string `json:"run_id"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil || rep.RunID == "" {
		t.Fatalf("run report: %v\n%s", err, out)
	}
	return rep.RunID
}

// heldBody is a run.held webhook body, exactly the contract's fields.
type heldBody struct {
	Type   string `json:"type"`
	SentAt string `json:"sent_at"`
	Run    struct {
		RunID            string `json:"run_id"`
		NewDiscrepancies int    `json:"new_discrepancies"`
		RefundsInScope   int    `json:"refunds_in_scope"`
	} `json:"run"`
}

// TestMisconfiguredQueryRunIsHeld: the scenario in a real run is
// held, with exactly one run.held per channel and no discrepancy alert;
// release then delivers each held alert exactly once, and a second release
// sends nothing and says so.
func TestMisconfiguredQueryRunIsHeld(t *testing.T) {
	eachStateDB(t, func(t *testing.T, w *world) {
		rc := healthyReceivers(t)
		withAlerts(t, w, rc)
		want := misconfiguredShop(t, w, 60, 5)

		out, stderr, err := w.run("run", "--format", "json")
		if err != nil {
			t.Fatalf("run: %v\n%s", err, stderr)
		}
		id := runID(t, out)
		if !strings.Contains(stderr, "refundrecon release "+id+" --by NAME") {
			t.Errorf("a held run's stderr does not say how to release it:\n%s", stderr)
		}
		if got := rc.counts(); got != [3]int{1, 1, 1} {
			t.Fatalf("requests (slack, pagerduty, webhook) = %v, want one run.held each", got)
		}
		if s := string(rc.slack.accepted()[0]); !strings.Contains(s, fmt.Sprintf("%d new discrepancies", want)) ||
			!strings.Contains(s, "refundrecon release "+id) || !strings.Contains(s, "refundrecon discard "+id) {
			t.Errorf("slack run.held does not say how many wait and how to release:\n%s", s)
		}
		pd := pdEvents(t, rc.pd.accepted())
		if pd[0].EventAction != "trigger" || pd[0].DedupKey != id || pd[0].Payload == nil || pd[0].Payload.Severity != "warning" {
			t.Errorf("pagerduty run.held = %+v", pd[0])
		}
		var hb heldBody
		if err := json.Unmarshal(rc.webhook.accepted()[0], &hb); err != nil {
			t.Fatal(err)
		}
		if hb.Type != "run.held" || hb.Run.RunID != id || hb.Run.NewDiscrepancies != want || hb.Run.RefundsInScope < want {
			t.Errorf("webhook run.held = %+v", hb)
		}

		runs := mustRun(t, w, "runs", "--format", "json")
		if !strings.Contains(runs, `"status": "held"`) {
			t.Errorf("runs does not list the run held:\n%s", runs)
		}
		text := mustRun(t, w, "runs")
		if !strings.Contains(text, id) || !strings.Contains(text, "held") {
			t.Errorf("runs (text):\n%s", text)
		}

		rel := mustRun(t, w, "release", id, "--by", "alice")
		if !strings.Contains(rel, "released run "+id+" by alice") {
			t.Errorf("release said: %s", rel)
		}
		// Each held alert once: webhook and PagerDuty one per case, Slack one
		// digest (more than 20 cases).
		if got := rc.counts(); got != [3]int{2, 1 + want, 1 + want} {
			t.Fatalf("after release requests = %v, want [2 %d %d]", got, 1+want, 1+want)
		}
		seen := map[string]bool{}
		for _, r := range rc.webhook.requests()[1:] {
			typ, d := webhookEvent(t, r)
			key := r.header.Get("Refundrecon-Delivery")
			if typ != "discrepancy.opened" || seen[key] || d["id"] == nil {
				t.Errorf("released webhook %s %s (seen %v)", typ, key, seen[key])
			}
			seen[key] = true
		}

		again, _, err := w.run("release", id, "--by", "bob")
		if err != nil || !strings.Contains(again, "already released by alice") {
			t.Errorf("second release: %v: %s", err, again)
		}
		if got := rc.counts(); got != [3]int{2, 1 + want, 1 + want} {
			t.Errorf("a second release sent more: %v", got)
		}
		// The audit trail names alice.
		ds := mustRun(t, w, "report", "--format", "json")
		if !strings.Contains(ds, "invalid_ledger_row") {
			t.Errorf("released cases are not in the report")
		}
		if n := countRows(t, w, `SELECT COUNT(*) FROM discrepancy_events WHERE action = 'released' AND actor = 'alice'`); n != want {
			t.Errorf("%d released events by alice, want %d", n, want)
		}
	})
}

func countRows(t *testing.T, w *world, q string) int {
	t.Helper()
	var n int
	if err := w.db.SQLX().Get(&n, q); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestDiscardResolvesWithoutAlerts: a held run discarded resolves the
// cases it opened, the note in their history, and none of their alerts is
// ever sent.
func TestDiscardResolvesWithoutAlerts(t *testing.T) {
	eachStateDB(t, func(t *testing.T, w *world) {
		rc := healthyReceivers(t)
		withAlerts(t, w, rc)
		want := misconfiguredShop(t, w, 30, 0)
		id := runID(t, mustRun(t, w, "run", "--format", "json"))
		if got := rc.counts(); got != [3]int{1, 1, 1} {
			t.Fatalf("requests = %v, want one run.held each", got)
		}
		_, _, err := w.run("discard", id, "--by", "bob")
		if code := exitCode(err, io.Discard); code != exitUsage {
			t.Errorf("discard without --note exited %d, want 2", code)
		}
		out := mustRun(t, w, "discard", id, "--by", "bob", "--note", "LEDGER_QUERY read the shop's states")
		if !strings.Contains(out, fmt.Sprintf("%d discrepancies it opened resolved without alerts", want)) {
			t.Errorf("discard said: %s", out)
		}
		if n := countRows(t, w, `SELECT COUNT(*) FROM discrepancies WHERE status = 'resolved'`); n != want {
			t.Errorf("%d cases resolved, want %d", n, want)
		}
		if n := countRows(t, w, `SELECT COUNT(*) FROM discrepancy_events WHERE actor = 'bob' AND action = 'resolved' AND note = 'LEDGER_QUERY read the shop''s states'`); n != want {
			t.Errorf("%d resolved events by bob with the note, want %d", n, want)
		}
		// A later run (the query still wrong or not) and a release send
		// nothing of the discarded cases' openings.
		again, _, _ := w.run("release", id, "--by", "carol")
		if !strings.Contains(again, "already discarded by bob") {
			t.Errorf("release after discard: %s", again)
		}
		if got := rc.counts(); got != [3]int{1, 1, 1} {
			t.Errorf("after discard requests = %v, want still one run.held each", got)
		}
		if n := countRows(t, w, `SELECT COUNT(*) FROM alert_outbox WHERE delivered_at IS NULL`); n != 0 {
			t.Errorf("%d alerts still waiting after discard", n)
		}
	})
}

// TestDryRunChangesNoByteAndSendsNothing: a dry run reads and judges as a
// run does (a new case is new, a known one is not), and leaves every state
// table as it was and every receiver untouched. The ordinary run before it
// (two new cases) is not held.
func TestDryRunChangesNoByteAndSendsNothing(t *testing.T) {
	eachStateDB(t, func(t *testing.T, w *world) {
		rc := healthyReceivers(t)
		withAlerts(t, w, rc)
		twoCases(w)
		mustRun(t, w, "run")
		if got := rc.counts(); got != [3]int{2, 2, 2} {
			t.Fatalf("ordinary run: requests = %v, want each case on each channel", got)
		}
		for _, b := range rc.webhook.accepted() {
			if strings.Contains(string(b), "run.held") {
				t.Errorf("an ordinary run was held")
			}
		}
		if runs := mustRun(t, w, "runs", "--format", "json"); strings.Contains(runs, `"held"`+": {") || !strings.Contains(runs, `"status": "succeeded"`) {
			t.Errorf("runs after an ordinary run:\n%s", runs)
		}

		// Changes a run would act on: lr_1 fixed (resolve), a third case (open).
		fix(t, w, "lr_1")
		day := 24 * time.Hour
		w.charge("ch_3", "cus_3", 9000, "usd", w.ago(20*day))
		w.refund(fakestripe.Refund{ID: "re_3", Charge: "ch_3", Amount: 4500, Created: w.ago(10 * day)})
		before := storetest.Dump(t, w.db)
		sent := rc.counts()

		out, stderr, err := w.run("run", "--dry-run", "--format", "json")
		if err != nil {
			t.Fatalf("dry run: %v\n%s", err, stderr)
		}
		rep := caseReport(t, out)
		if !strings.HasPrefix(rep.RunID, "dry_") || rep.Status != "succeeded" {
			t.Errorf("dry run report: run_id %q status %q", rep.RunID, rep.Status)
		}
		byLedger := map[string]bool{}
		for _, d := range rep.Discrepancies {
			byLedger[d.LedgerRefundID+"/"+strings.Join(d.GatewayRefundIDs, ",")] = d.New
		}
		if isNew, ok := byLedger["lr_2/re_2"]; !ok || isNew {
			t.Errorf("dry run: lr_2's known case missing or new: %v", byLedger)
		}
		if isNew, ok := byLedger["/re_3"]; !ok || !isNew {
			t.Errorf("dry run: re_3's case missing or not new: %v", byLedger)
		}
		if _, ok := byLedger["lr_1/re_1"]; ok {
			t.Errorf("dry run: fixed lr_1 still reported")
		}
		if !strings.Contains(stderr, "dry run: nothing was recorded") {
			t.Errorf("dry run stderr:\n%s", stderr)
		}
		if after := storetest.Dump(t, w.db); after != before {
			t.Errorf("the dry run changed the state database:\nbefore:\n%s\nafter:\n%s", before, after)
		}
		if got := rc.counts(); got != sent {
			t.Errorf("the dry run sent alerts: %v, before %v", got, sent)
		}

		// A real run then says what the dry run said. The dry run reads
		// Stripe live, a full listing: so does this run, since the test
		// world adds re_3 backdated before the last sync, which an
		// incremental sync of real Stripe never sees happen.
		realOut := mustRun(t, w, "run", "--full", "--format", "json")
		real := caseReport(t, realOut)
		if len(real.Discrepancies) != len(rep.Discrepancies) {
			t.Errorf("run found %d cases, the dry run %d", len(real.Discrepancies), len(rep.Discrepancies))
		}
		for _, d := range real.Discrepancies {
			k := d.LedgerRefundID + "/" + strings.Join(d.GatewayRefundIDs, ",")
			if isNew, ok := byLedger[k]; !ok || isNew != d.New {
				t.Errorf("run says %s new=%v, the dry run %v (%v)", k, d.New, isNew, ok)
			}
		}
	})
}

// caseReport is the part of a JSON run report these tests read.
type caseReportJSON struct {
	RunID         string `json:"run_id"`
	Status        string `json:"status"`
	Discrepancies []struct {
		LedgerRefundID   string   `json:"ledger_refund_id"`
		GatewayRefundIDs []string `json:"gateway_refund_ids"`
		New              bool     `json:"new"`
	} `json:"discrepancies"`
}

func caseReport(t *testing.T, out string) caseReportJSON {
	t.Helper()
	var rep caseReportJSON
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("run report: %v\n%s", err, out)
	}
	return rep
}

// TestHoldNewSetting: ALERT_HOLD_NEW and --alert-hold-new take a share from
// 0 to 1; anything else is exit 2.
func TestHoldNewSetting(t *testing.T) {
	env := map[string]string{"DATABASE_URL": "sqlite:" + t.TempDir() + "/r.db", "STRIPE_API_KEY": testKey,
		"STRIPE_API_URL": "http://127.0.0.1:1"}
	for _, c := range []struct {
		env  string
		args []string
	}{
		{"1.5", nil}, {"abc", nil}, {"-0.1", nil}, {"NaN", nil},
		{"", []string{"--alert-hold-new", "2"}}, {"", []string{"--alert-hold-new", "x"}},
	} {
		env["ALERT_HOLD_NEW"] = c.env
		err := run(t.Context(), append([]string{"run"}, c.args...), func(k string) string { return env[k] }, io.Discard, io.Discard)
		if code := exitCode(err, io.Discard); code != exitUsage {
			t.Errorf("ALERT_HOLD_NEW=%q %v: exit %d (%v), want 2", c.env, c.args, code, err)
		}
	}
}
