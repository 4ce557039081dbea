package reconcile

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestKindsWorstFirst(t *testing.T) {
	infos := KindsWorstFirst()
	if len(infos) != len(Kinds) {
		t.Fatalf("%d descriptions for %d kinds", len(infos), len(Kinds))
	}
	want := []Kind{GatewayFailed, MissingAtGateway, GatewayCanceled, DuplicateAtGateway}
	for i, k := range want {
		if infos[i].Kind != k || k.Rank() != i+1 {
			t.Errorf("rank %d is %s (rank %d), want %s", i+1, infos[i].Kind, k.Rank(), k)
		}
	}
	if last := infos[len(infos)-1]; last.Kind != InvalidLedgerRow || InvalidLedgerRow.Rank() != len(Kinds) {
		t.Errorf("last is %s, want invalid_ledger_row", last.Kind)
	}
	seen := map[Kind]bool{}
	for _, info := range infos {
		if seen[info.Kind] || !info.Kind.Valid() || info.Label == "" || info.Meaning == "" || info.NextStep == "" || info.Severity == "" {
			t.Errorf("incomplete or repeated description: %+v", info)
		}
		seen[info.Kind] = true
	}
	if GatewayFailed.Label() != "Refund failed at Stripe" {
		t.Errorf("label %q", GatewayFailed.Label())
	}
	if Kind("nope").Rank() <= InvalidLedgerRow.Rank() {
		t.Error("an unknown kind ranks before a known one")
	}
}

func TestClassifyDates(t *testing.T) {
	failedAt := ago(2 * day24)
	l := ledgerRow(func(l *LedgerRefund) { l.PaymentIntentID = "pi_1" })
	g := []GatewayRefund{gatewayRow("re_1", status(RefundFailed), func(g *GatewayRefund) { g.FailedAt = failedAt })}
	d, ok := rules.ClassifyLedger(&l, g, []int32{0}, now)
	if !ok || d.Kind != GatewayFailed {
		t.Fatalf("got %v %s", ok, d.Kind)
	}
	if !d.RefundAt.Equal(l.CompletedAt) || !d.ProblemSince.Equal(failedAt) || d.PaymentIntentID != "pi_1" {
		t.Errorf("refund at %s, problem since %s, pi %q; want %s, %s, pi_1", d.RefundAt, d.ProblemSince, d.PaymentIntentID, l.CompletedAt, failedAt)
	}
	missing := ledgerRow()
	d, _ = rules.ClassifyLedger(&missing, nil, nil, now)
	if !d.ProblemSince.Equal(missing.CompletedAt) {
		t.Errorf("missing at gateway: problem since %s, want the completion %s", d.ProblemSince, missing.CompletedAt)
	}
	gr := gatewayRow("re_9", func(g *GatewayRefund) { g.LedgerRefundID = ""; g.PaymentIntentID = "pi_9" })
	d, _ = rules.ClassifyGateway(&gr, now)
	if !d.RefundAt.Equal(gr.Created) || !d.ProblemSince.Equal(gr.Created) || d.PaymentIntentID != "pi_9" {
		t.Errorf("missing in ledger: %+v", d)
	}
}

func TestAgeBucket(t *testing.T) {
	for _, c := range []struct {
		days float64
		want string
	}{{0, AgeWeek}, {7, AgeWeek}, {8, AgeMonth}, {30, AgeMonth}, {31, AgeQuarter}, {90, AgeQuarter}, {91, AgeOlder}} {
		if got := AgeBucket(now.Add(-time.Duration(c.days*24)*time.Hour), now); got != c.want {
			t.Errorf("%v days: %s, want %s", c.days, got, c.want)
		}
	}
}

func TestTrend(t *testing.T) {
	d0 := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	events := []TrendEvent{
		{CaseID: "a", At: d0.Add(-48 * time.Hour), Opened: true, Currency: "usd", AtRisk: 100}, // open before the window
		{CaseID: "b", At: d0.Add(25 * time.Hour), Opened: true, Currency: "eur", AtRisk: 50},
		{CaseID: "a", At: d0.Add(26 * time.Hour), Opened: false, Currency: "usd", AtRisk: 100},
		{CaseID: "c", At: d0.Add(49 * time.Hour), Opened: true, Currency: "USD", AtRisk: 7},
	}
	days := Trend(events, d0.Add(time.Hour), d0.Add(50*time.Hour))
	if len(days) != 3 {
		t.Fatalf("%d days, want 3", len(days))
	}
	want := []struct {
		opened, resolved int
		usd, eur         int64
	}{{0, 0, 100, 0}, {1, 1, 0, 50}, {1, 0, 7, 50}}
	for i, w := range want {
		d := days[i]
		if d.Opened != w.opened || d.Resolved != w.resolved || d.AtRisk["usd"] != w.usd || d.AtRisk["eur"] != w.eur {
			t.Errorf("day %d: %+v, want %+v", i, d, w)
		}
	}
}

func TestCasePageAndHistoryJSON(t *testing.T) {
	b, _ := json.Marshal(CasePage{})
	if string(b) != `{"discrepancies":[],"next_cursor":null}` {
		t.Errorf("empty page: %s", b)
	}
	from := StatusOpen
	run := "run_1"
	b, err := json.Marshal(CaseWithHistory{Case: Discrepancy{ID: "dsc_1", Kind: GatewayFailed, Status: StatusAcknowledged},
		History: []CaseEvent{{At: now, By: "refundrecon", Action: "opened", To: StatusOpen, RunID: &run},
			{At: now, By: "ana", Action: "acknowledged", From: &from, To: StatusAcknowledged, Note: "on it"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"id":"dsc_1"`, `"gateway_refund_ids":[]`, `"history":[{"at":"2026-11-25T12:00:00Z","by":"refundrecon","action":"opened","from":null,"to":"open","note":"","run_id":"run_1"}`, `"from":"open","to":"acknowledged","note":"on it","run_id":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
	b, _ = json.Marshal(RunList{{ID: "run_1", Status: RunSucceeded, StartedAt: now, FinishedAt: now.Add(1500 * time.Millisecond)}})
	for _, want := range []string{`"runs":[{"id":"run_1"`, `"duration_ms":1500`, `"error":null`, `"customer_id":null`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("%s lacks %s", b, want)
		}
	}
}
