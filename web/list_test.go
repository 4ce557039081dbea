package web

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

func TestCaseFilterAmountNeedsItsCurrency(t *testing.T) {
	h := New(Config{})
	f := filter{Status: "unresolved", Min: "200", Cur: "jpy", Sort: "worst"}
	if q := h.caseFilter(&f); q.MinAtRisk["jpy"] != 200 || len(q.MinAtRisk) != 1 || len(f.Problems) != 0 {
		t.Errorf("JPY 200: %v %v", q.MinAtRisk, f.Problems)
	}
	f = filter{Status: "unresolved", Min: "200", Cur: "usd", Sort: "worst"}
	if q := h.caseFilter(&f); q.MinAtRisk["usd"] != 20000 {
		t.Errorf("USD 200: %v", q.MinAtRisk)
	}
	f = filter{Status: "unresolved", Min: "200", Sort: "worst"}
	if q := h.caseFilter(&f); q.MinAtRisk != nil || len(f.Problems) != 1 || !strings.Contains(f.Problems[0], "currency") {
		t.Errorf("no currency: %v %v", q.MinAtRisk, f.Problems)
	}
	f = filter{Status: "unresolved", Sort: "sideways"}
	if q := h.caseFilter(&f); q.Sort != reconcile.SortWorst || len(f.Problems) != 1 {
		t.Errorf("bad sort: %v %v", q.Sort, f.Problems)
	}
}

func TestFreshness(t *testing.T) {
	now := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	next := func(t time.Time) time.Time { return time.Date(2026, 12, 5, 2, 0, 0, 0, time.UTC) }
	h := New(Config{NextRun: next})
	ok := reconcile.Run{ID: "r", Status: reconcile.RunSucceeded, StartedAt: now.Add(-7 * time.Hour), FinishedAt: now.Add(-7*time.Hour + time.Minute),
		Scope: reconcile.Scope{Since: now.Add(-90 * 24 * time.Hour), Until: now.Add(-7 * time.Hour)}}
	failed := ok
	failed.Status, failed.Error = reconcile.RunFailed, "stripe: invalid API key"
	old := ok
	old.StartedAt, old.FinishedAt = now.Add(-27*time.Hour), now.Add(-27*time.Hour+time.Minute)
	for _, c := range []struct {
		name  string
		runs  reconcile.RunList
		stale bool
		says  []string
	}{
		{"fresh", reconcile.RunList{ok}, false, []string{"succeeded", "2026-09-05 to 2026-12-04, all customers", "next run 2026-12-05 02:00 UTC", "6 h ago"}},
		{"failed", reconcile.RunList{failed}, true, []string{"failed", "invalid API key"}},
		{"older than 26 hours", reconcile.RunList{old}, true, []string{"26 h ago"}},
		{"never", nil, true, []string{"No run yet"}},
	} {
		f := h.freshness(c.runs, now)
		if f.Stale != c.stale {
			t.Errorf("%s: stale %v, want %v (%s)", c.name, f.Stale, c.stale, f.Line)
		}
		for _, s := range c.says {
			if !strings.Contains(f.Line, s) {
				t.Errorf("%s: %q lacks %q", c.name, f.Line, s)
			}
		}
	}
}

func TestStripeLinks(t *testing.T) {
	d := reconcile.Discrepancy{ChargeID: "ch_1", GatewayRefundIDs: []string{"re_1", "re_2"}}
	live := New(Config{}).stripeLinks(d)
	test := New(Config{StripeTestMode: true}).stripeLinks(d)
	if len(live) != 3 || live[0].Href != "https://dashboard.stripe.com/payments/ch_1" || live[1].Href != "https://dashboard.stripe.com/payments/ch_1#re_1" {
		t.Errorf("live links %+v", live)
	}
	if len(test) != 3 || test[0].Href != "https://dashboard.stripe.com/test/payments/ch_1" {
		t.Errorf("test links %+v", test)
	}
	if l := New(Config{}).stripeLinks(reconcile.Discrepancy{GatewayRefundIDs: []string{"re_9"}}); len(l) != 1 || !strings.Contains(l[0].Href, "search?query=re_9") {
		t.Errorf("refund without its payment %+v", l)
	}
	if l := New(Config{}).stripeLinks(reconcile.Discrepancy{LedgerRefundID: "lr_1"}); len(l) != 0 {
		t.Errorf("no Stripe id, links %+v", l)
	}
}

func TestColumnsAriaSort(t *testing.T) {
	aria := func(f filter) map[string]string {
		out := map[string]string{}
		for _, c := range columns(f, url.Values{}) {
			out[c.Sort] = c.AriaSort
			if !strings.Contains(c.Href, "sort="+c.Sort) {
				t.Errorf("%s links to %s", c.Sort, c.Href)
			}
		}
		return out
	}
	if a := aria(filter{Sort: "worst", Dir: "asc"}); a["kind"] != "ascending" || a["at_risk"] != "none" || len(a) != 7 {
		t.Errorf("worst first: %v", a)
	}
	if a := aria(filter{Sort: "at_risk", Dir: "desc"}); a["at_risk"] != "descending" || a["kind"] != "none" {
		t.Errorf("at risk descending: %v", a)
	}
	// The oldest problem first is the age descending.
	if a := aria(filter{Sort: "since", Dir: "asc"}); a["since"] != "descending" {
		t.Errorf("since ascending: %v", a)
	}
	for _, c := range columns(filter{Sort: "customer", Dir: "asc"}, url.Values{}) {
		if c.Sort == "customer" && !strings.Contains(c.Href, "dir=desc") {
			t.Errorf("a second click does not reverse: %s", c.Href)
		}
	}
}

// The page marks a case as paging by the alerts' rule (ALERT_PAGE_KINDS and
// its amount floor), not a list of its own.
func TestCasePageMarksPagingByTheConfiguredRule(t *testing.T) {
	amount := int64(3000)
	d := reconcile.Discrepancy{ID: "dsc_1", Kind: reconcile.AmountMismatch, Status: reconcile.StatusOpen,
		Currency: "usd", LedgerAmount: &amount, GatewayAmount: new(int64)}
	marked := func(p reconcile.Paging) bool {
		t.Helper()
		h := New(Config{Paging: p})
		w := httptest.NewRecorder()
		h.render(w, http.StatusOK, "case.html", caseData{Case: d, Info: d.Kind.Info(), Row: h.rowOf(d, h.now())})
		if w.Code != http.StatusOK {
			t.Fatalf("render: %d %s", w.Code, w.Body)
		}
		return strings.Contains(w.Body.String(), `class="kind page-kind"`)
	}
	if marked(reconcile.Paging{}) {
		t.Error("amount_mismatch is marked as paging by default")
	}
	pages := reconcile.Paging{PageKinds: []reconcile.Kind{reconcile.AmountMismatch}}
	if !marked(pages) {
		t.Error("amount_mismatch is not marked although ALERT_PAGE_KINDS names it")
	}
	pages.PageMinAmount = map[string]int64{"usd": 3001}
	if marked(pages) {
		t.Error("a case below ALERT_PAGE_MIN_AMOUNT is marked as paging")
	}
}
