package store_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// TestCases runs the case list's suite (search, paging, sort, tally, trend,
// runs) against PostgreSQL and SQLite.
func TestCases(t *testing.T) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range []struct {
				name string
				fn   func(*testing.T, backend)
			}{
				{"PagingEveryOrder", testCasesPaging},
				{"WorstFirst", testCasesWorstFirst},
				{"Search", testCasesSearch},
				{"MinAtRisk", testCasesMinAtRisk},
				{"Tally", testCasesTally},
				{"DatesRoundTrip", testCasesDates},
				{"BadCursor", testCasesBadCursor},
				{"Trend", testCasesTrend},
				{"RunsAndHistory", testCasesRunsHistory},
				{"FillAtRisk", testCasesFillAtRisk},
			} {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					tc.fn(t, b)
				})
			}
		})
	}
}

// caseSet is a mix of kinds, amounts, currencies and dates.
func caseSet(now time.Time) []reconcile.Discrepancy {
	kinds := []reconcile.Kind{reconcile.InvalidLedgerRow, reconcile.AmountMismatch, reconcile.GatewayFailed,
		reconcile.MissingInLedger, reconcile.MissingAtGateway, reconcile.DuplicateAtGateway}
	currencies := []string{"usd", "eur", "jpy"}
	var out []reconcile.Discrepancy
	for i := range 23 {
		d := disc(kinds[i%len(kinds)], fmt.Sprintf("lr_%03d", i), fmt.Sprintf("cus_%d", i%4), fmt.Sprintf("re_%03da", i), fmt.Sprintf("re_%03db", i))
		d.Currency = currencies[i%3]
		d.LedgerAmount = ptr(int64(1000 + (i%5)*700))
		d.GatewayAmount = ptr(int64(1000))
		d.PaymentIntentID = fmt.Sprintf("pi_%03d", i)
		d.RefundAt = now.Add(-time.Duration(i*5+1) * 24 * time.Hour)
		if i%7 != 0 { // some without a known start
			d.ProblemSince = d.RefundAt.Add(time.Duration(i%3) * time.Hour)
		}
		out = append(out, d)
	}
	return out
}

func seedCases(t *testing.T, db *store.DB) []reconcile.Discrepancy {
	t.Helper()
	return finish(t, db, "run_cases", time.Now().Add(-time.Minute), caseSet(time.Now()))
}

func caseIDs(ds []reconcile.Discrepancy) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.ID
	}
	return out
}

// allPages pages through f, limit cases at a time.
func allPages(t *testing.T, db *store.DB, f reconcile.CaseFilter) ([]reconcile.Discrepancy, int) {
	t.Helper()
	var all []reconcile.Discrepancy
	pages := 0
	for {
		page, err := db.Cases(ctxFor(t), f)
		if err != nil {
			t.Fatalf("Cases %+v: %v", f, err)
		}
		pages++
		all = append(all, page.Cases...)
		if page.NextCursor == "" {
			return all, pages
		}
		if pages > 100 {
			t.Fatal("paging does not end")
		}
		f.Cursor = page.NextCursor
	}
}

func testCasesPaging(t *testing.T, b backend) {
	db := b.open(t)
	seeded := seedCases(t, db)
	for _, s := range reconcile.CaseSorts {
		for _, desc := range []bool{false, true} {
			whole, err := db.Cases(ctxFor(t), reconcile.CaseFilter{Sort: s, Desc: desc, Limit: 1000})
			if err != nil || whole.NextCursor != "" || len(whole.Cases) != len(seeded) {
				t.Fatalf("%s desc=%v: %d cases, cursor %q, %v", s, desc, len(whole.Cases), whole.NextCursor, err)
			}
			paged, pages := allPages(t, db, reconcile.CaseFilter{Sort: s, Desc: desc, Limit: 4})
			if pages != 6 {
				t.Errorf("%s desc=%v: %d pages of 4 for 23 cases, want 6", s, desc, pages)
			}
			if !slices.Equal(caseIDs(paged), caseIDs(whole.Cases)) {
				t.Errorf("%s desc=%v: paged order differs from the whole\n%v\n%v", s, desc, caseIDs(paged), caseIDs(whole.Cases))
			}
		}
	}
	// The default limit and its maximum.
	if f := (reconcile.CaseFilter{}); f.PageLimit() != 100 {
		t.Errorf("default limit %d", f.PageLimit())
	}
	if f := (reconcile.CaseFilter{Limit: 5000}); f.PageLimit() != 1000 {
		t.Errorf("max limit %d", f.PageLimit())
	}
}

func testCasesWorstFirst(t *testing.T, b backend) {
	db := b.open(t)
	seedCases(t, db)
	page, err := db.Cases(ctxFor(t), reconcile.CaseFilter{})
	if err != nil {
		t.Fatal(err)
	}
	since := func(d reconcile.Discrepancy) time.Time {
		if d.ProblemSince.IsZero() {
			return d.FirstSeenAt
		}
		return d.ProblemSince
	}
	want := slices.Clone(page.Cases)
	slices.SortStableFunc(want, func(x, y reconcile.Discrepancy) int {
		if r := x.Kind.Rank() - y.Kind.Rank(); r != 0 {
			return r
		}
		ax, _ := reconcile.AtRisk(x)
		ay, _ := reconcile.AtRisk(y)
		if ax != ay {
			if ax > ay {
				return -1
			}
			return 1
		}
		if c := since(x).Compare(since(y)); c != 0 {
			return c
		}
		if x.ID < y.ID {
			return -1
		}
		return 1
	})
	if !slices.Equal(caseIDs(page.Cases), caseIDs(want)) {
		t.Errorf("not worst first:\n got %v\nwant %v", caseIDs(page.Cases), caseIDs(want))
	}
	if page.Cases[0].Kind != reconcile.GatewayFailed || page.Cases[len(page.Cases)-1].Kind != reconcile.InvalidLedgerRow {
		t.Errorf("first %s, last %s", page.Cases[0].Kind, page.Cases[len(page.Cases)-1].Kind)
	}
}

func testCasesSearch(t *testing.T, b backend) {
	db := b.open(t)
	seeded := seedCases(t, db)
	target := seeded[13]
	for _, q := range []string{target.ID, target.ID[:10], "lr_013", "re_013b", "re_013a", "ch_lr_013", "pi_013", "cus_1"} {
		page, err := db.Cases(ctxFor(t), reconcile.CaseFilter{Query: q, Limit: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(caseIDs(page.Cases), target.ID) {
			t.Errorf("search %q does not find %s", q, target.ID)
		}
		if q != "cus_1" && len(page.Cases) != 1 {
			t.Errorf("search %q finds %d cases, want 1", q, len(page.Cases))
		}
	}
	// A prefix, not a substring; wildcards are literal.
	for _, q := range []string{"013", "lr_%", "re\\_0", "_r_013"} {
		page, err := db.Cases(ctxFor(t), reconcile.CaseFilter{Query: q})
		if err != nil || len(page.Cases) != 0 {
			t.Errorf("search %q: %d cases, %v; want none", q, len(page.Cases), err)
		}
	}
	page, _ := db.Cases(ctxFor(t), reconcile.CaseFilter{Query: "lr_01", Limit: 1000})
	if len(page.Cases) != 10 {
		t.Errorf("prefix lr_01 finds %d, want 10", len(page.Cases))
	}
}

func testCasesMinAtRisk(t *testing.T, b backend) {
	db := b.open(t)
	seeded := seedCases(t, db)
	f := reconcile.CaseFilter{MinAtRisk: map[string]int64{"usd": 1500, "JPY": 2000}, Limit: 1000}
	page, err := db.Cases(ctxFor(t), f)
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, d := range seeded {
		a, cur := reconcile.AtRisk(d)
		if cur == "usd" && a >= 1500 || cur == "jpy" && a >= 2000 {
			want = append(want, d.ID)
		}
	}
	got := caseIDs(page.Cases)
	slices.Sort(got)
	slices.Sort(want)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Errorf("min at risk: got %v, want %v", got, want)
	}
}

func testCasesTally(t *testing.T, b backend) {
	db := b.open(t)
	seeded := seedCases(t, db)
	f := reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusOpen}, Query: "cus_2"}
	now := time.Now()
	tally, err := db.Tally(ctxFor(t), f, now)
	if err != nil {
		t.Fatal(err)
	}
	type key struct {
		kind          reconcile.Kind
		currency, age string
	}
	got, want := map[key][2]int64{}, map[key][2]int64{}
	for _, c := range tally {
		got[key{c.Kind, c.Currency, c.Bucket}] = [2]int64{int64(c.Cases), c.AtRisk}
	}
	for _, d := range seeded {
		if d.CustomerID != "cus_2" {
			continue
		}
		a, cur := reconcile.AtRisk(d)
		since := d.ProblemSince
		if since.IsZero() {
			since = d.FirstSeenAt
		}
		k := key{d.Kind, cur, reconcile.AgeBucket(since, now)}
		v := want[k]
		want[k] = [2]int64{v[0] + 1, v[1] + a}
	}
	if len(got) != len(want) {
		t.Errorf("tally %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%v: %v, want %v", k, got[k], v)
		}
	}
}

func testCasesDates(t *testing.T, b backend) {
	db := b.open(t)
	seeded := seedCases(t, db)
	for _, d := range seeded[:8] {
		got, err := db.Discrepancy(ctxFor(t), d.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !got.RefundAt.Equal(d.RefundAt.Truncate(time.Microsecond)) || !got.ProblemSince.Equal(d.ProblemSince.Truncate(time.Microsecond)) ||
			got.PaymentIntentID != d.PaymentIntentID {
			t.Errorf("%s: refund at %s since %s pi %q; want %s %s %q", d.ID, got.RefundAt, got.ProblemSince, got.PaymentIntentID,
				d.RefundAt, d.ProblemSince, d.PaymentIntentID)
		}
	}
	// A later run that knows no start keeps the one stored.
	d := seeded[1]
	stored := d.ProblemSince
	d.ProblemSince = time.Time{}
	finish(t, db, "run_later", time.Now(), []reconcile.Discrepancy{d})
	got, _ := db.Discrepancy(ctxFor(t), d.ID)
	if !got.ProblemSince.Equal(stored.Truncate(time.Microsecond)) {
		t.Errorf("problem since %s after a run without one, want %s kept", got.ProblemSince, stored)
	}
}

func testCasesBadCursor(t *testing.T, b backend) {
	db := b.open(t)
	seedCases(t, db)
	page, err := db.Cases(ctxFor(t), reconcile.CaseFilter{Limit: 2})
	if err != nil || page.NextCursor == "" {
		t.Fatal(err)
	}
	for _, f := range []reconcile.CaseFilter{{Cursor: "not a cursor"}, {Cursor: page.NextCursor, Sort: reconcile.SortID}} {
		if _, err := db.Cases(ctxFor(t), f); !errors.Is(err, reconcile.ErrInvalid) {
			t.Errorf("cursor %+v: %v, want ErrInvalid", f, err)
		}
	}
}

func testCasesTrend(t *testing.T, b backend) {
	db := b.open(t)
	day := func(n int) time.Time {
		return time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC).Add(time.Duration(n) * 24 * time.Hour)
	}
	a := disc(reconcile.GatewayFailed, "lr_a", "cus_1", "re_a")
	c := disc(reconcile.MissingAtGateway, "lr_c", "cus_1")
	c.Currency = "eur"
	finish(t, db, "run_1", day(0), []reconcile.Discrepancy{a})
	finish(t, db, "run_2", day(2), []reconcile.Discrepancy{c}, a.ID)
	days, err := db.Trend(ctxFor(t), day(0), day(3))
	if err != nil {
		t.Fatal(err)
	}
	if len(days) != 4 {
		t.Fatalf("%d days", len(days))
	}
	type want struct {
		opened, resolved int
		usd, eur         int64
	}
	for i, w := range []want{{1, 0, 4500, 0}, {0, 0, 4500, 0}, {1, 1, 0, 4500}, {0, 0, 0, 4500}} {
		d := days[i]
		if d.Opened != w.opened || d.Resolved != w.resolved || d.AtRisk["usd"] != w.usd || d.AtRisk["eur"] != w.eur {
			t.Errorf("day %d: %+v, want %+v", i, d, w)
		}
	}
}

func testCasesRunsHistory(t *testing.T, b backend) {
	db := b.open(t)
	a := disc(reconcile.GatewayFailed, "lr_a", "cus_1", "re_a")
	finish(t, db, "run_1", ts(0), []reconcile.Discrepancy{a})
	finish(t, db, "run_2", ts(time.Hour), []reconcile.Discrepancy{a})
	if _, err := db.Acknowledge(ctxFor(t), a.ID, "ana", "looking"); err != nil {
		t.Fatal(err)
	}
	runs, err := db.Runs(ctxFor(t), 10)
	if err != nil || len(runs) != 2 || runs[0].ID != "run_2" || runs[1].ID != "run_1" || runs[0].Status != reconcile.RunSucceeded {
		t.Fatalf("runs %+v, %v", runs, err)
	}
	if one, _ := db.Runs(ctxFor(t), 1); len(one) != 1 {
		t.Errorf("limit 1: %d runs", len(one))
	}
	hist, err := db.History(ctxFor(t), a.ID)
	if err != nil || len(hist) != 2 {
		t.Fatalf("history %+v, %v", hist, err)
	}
	if h := hist[0]; h.Action != store.ActionOpened || h.From != nil || h.RunID == nil || *h.RunID != "run_1" || h.By != store.RunActor {
		t.Errorf("first event %+v", h)
	}
	if h := hist[1]; h.Action != store.ActionAcknowledged || h.From == nil || *h.From != reconcile.StatusOpen || h.RunID != nil || h.By != "ana" || h.Note != "looking" {
		t.Errorf("second event %+v", h)
	}
}

func testCasesFillAtRisk(t *testing.T, b backend) {
	db := b.open(t)
	seeded := seedCases(t, db)
	if _, err := db.SQLX().ExecContext(ctxFor(t), "UPDATE discrepancies SET at_risk_amount = NULL, at_risk_currency = NULL"); err != nil {
		t.Fatal(err)
	}
	if err := db.Migrate(ctxFor(t)); err != nil {
		t.Fatal(err)
	}
	page, err := db.Cases(ctxFor(t), reconcile.CaseFilter{Sort: reconcile.SortAtRisk, Desc: true, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	var most int64
	for _, d := range seeded {
		most = max(most, func() int64 { a, _ := reconcile.AtRisk(d); return a }())
	}
	if a, _ := reconcile.AtRisk(page.Cases[0]); a != most {
		t.Errorf("largest at risk after the fill: %d, want %d", a, most)
	}
	if n := count(t, db, "SELECT COUNT(*) FROM discrepancies WHERE at_risk_amount IS NULL"); n != 0 {
		t.Errorf("%d cases left without money at risk", n)
	}
}
