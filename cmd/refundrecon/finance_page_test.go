package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/server"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/web"
)

// financeWorld serves the API and the page as serve does, over the demo's
// cases, with the page's clock a day after the demo's run.
func financeWorld(t *testing.T) (*httptest.Server, *store.DB) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if err := run(context.Background(), []string{"demo"}, noEnv, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	db, err := store.Open(context.Background(), "sqlite:"+filepath.Join(dir, "refundrecon-demo.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := demoNow.Add(20 * time.Hour)
	page := web.New(web.Config{Store: db, Tokens: pageTokens, PageSize: 10,
		Now: func() time.Time { return now }, StripeTestMode: true,
		NextRun: func(t time.Time) time.Time { return t.Truncate(24 * time.Hour).Add(26 * time.Hour) }})
	h := server.New(server.Config{Store: db, Tokens: pageTokens, Page: page, PageRoutes: web.Routes})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, db
}

// apiGet decodes GET path of the API into v.
func apiGet(t *testing.T, base, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Authorization", "Bearer "+pageToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
}

// apiCases pages through the API's list, limit at a time, and fails on a
// case seen twice.
func apiCases(t *testing.T, base, query string, limit int) ([]reconcile.Discrepancy, int) {
	t.Helper()
	var all []reconcile.Discrepancy
	seen := map[string]bool{}
	cursor, pages := "", 0
	for {
		path := fmt.Sprintf("/api/discrepancies?%s&limit=%d", query, limit)
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		var body struct {
			Discrepancies []reconcile.Discrepancy `json:"discrepancies"`
			NextCursor    *string                 `json:"next_cursor"`
		}
		apiGet(t, base, path, &body)
		pages++
		for _, d := range body.Discrepancies {
			if seen[d.ID] {
				t.Fatalf("page %d repeats %s", pages, d.ID)
			}
			seen[d.ID] = true
		}
		all = append(all, body.Discrepancies...)
		if body.NextCursor == nil {
			return all, pages
		}
		cursor = *body.NextCursor
	}
}

// The finance page as an analyst opens it every morning, in a real headless
// Chromium, checked against the API: totals per currency, worst first, the
// search box, dates and ages, the trend, a phone's width, bulk acknowledge.
func TestFinancePageDaily(t *testing.T) {
	chrome := browser(t)
	srv, _ := financeWorld(t)

	// The API: open cases, paged 7 at a time without overlap.
	open, pages := apiCases(t, srv.URL, "status=open", 7)
	if len(open) < 20 || pages != (len(open)+6)/7 {
		t.Fatalf("%d open cases in %d pages", len(open), pages)
	}
	want := map[string]int64{}
	for _, d := range open {
		if a, cur := reconcile.AtRisk(d); money.Valid(cur) {
			want[strings.ToUpper(cur)] += a
		}
	}
	var firstPage struct {
		Discrepancies []reconcile.Discrepancy `json:"discrepancies"`
	}
	apiGet(t, srv.URL, "/api/discrepancies?status=open&limit=10", &firstPage)
	var runs struct {
		Runs []map[string]any `json:"runs"`
	}
	apiGet(t, srv.URL, "/api/runs?limit=5", &runs)
	if len(runs.Runs) == 0 || runs.Runs[0]["status"] != "succeeded" {
		t.Fatalf("runs: %v", runs.Runs)
	}
	// A case to search for, with a ledger refund, a re_ id and a customer.
	var target reconcile.Discrepancy
	for _, d := range open {
		if d.LedgerRefundID != "" && len(d.GatewayRefundIDs) > 0 && d.CustomerID != "" {
			target = d
			break
		}
	}
	if target.ID == "" {
		t.Fatal("no case with a ledger refund, a re_ id and a customer")
	}

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(browserProfile(t)), chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, budget(t, 90*time.Second)) // no fixed bound: a loaded machine's browser is slow
	defer cancel()

	var totals map[string]string
	var kinds, ids, refundDays, ages []string
	var stale bool
	var fresh string
	var trendBars int
	var stripeHrefs []string
	var shot, caseShot []byte
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/?status=open"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SendKeys(`#token`, pageToken, chromedp.ByID),
		chromedp.Click(`#signin`, chromedp.ByID),
		chromedp.WaitVisible(`#cases`, chromedp.ByID),
		chromedp.Evaluate(`Object.fromEntries(Array.from(document.querySelectorAll('#totals .total')).map(e => [e.dataset.currency, e.querySelector('.amount').textContent.trim()]))`, &totals),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases tbody tr')).map(tr => tr.dataset.kind)`, &kinds),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases tbody tr')).map(tr => tr.dataset.id)`, &ids),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases tbody td.refund-date')).map(td => td.textContent.trim())`, &refundDays),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases tbody td.age')).map(td => td.textContent.trim())`, &ages),
		chromedp.Evaluate(`document.querySelector('#freshness').classList.contains('stale')`, &stale),
		chromedp.Text(`#freshness`, &fresh, chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll('svg#trend rect.opened').length`, &trendBars),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases a.stripe')).map(a => a.href)`, &stripeHrefs),
		chromedp.FullScreenshot(&shot, 100),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	// Totals per currency equal the API's open cases, never summed across.
	if len(totals) != len(want) {
		t.Errorf("page totals %v, API %v", totals, want)
	}
	for cur, a := range want {
		if got := totals[cur]; got != money.Format(a, cur) {
			t.Errorf("%s at risk: page %q, API %q", cur, got, money.Format(a, cur))
		}
	}
	// Worst first, as the API orders it.
	for i := 1; i < len(kinds); i++ {
		if reconcile.Kind(kinds[i]).Rank() < reconcile.Kind(kinds[i-1]).Rank() {
			t.Errorf("row %d (%s) ranks before row %d (%s)", i, kinds[i], i-1, kinds[i-1])
		}
	}
	if len(ids) != 10 || kinds[0] != string(reconcile.GatewayFailed) {
		t.Errorf("first page: %d rows, first %s", len(ids), kinds[0])
	}
	apiIDs := make([]string, len(firstPage.Discrepancies))
	for i, d := range firstPage.Discrepancies {
		apiIDs[i] = d.ID
	}
	if !slices.Equal(ids, apiIDs) {
		t.Errorf("page order %v, API order %v", ids, apiIDs)
	}
	// The refund's own date and the problem's age.
	date := regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)
	for i := range refundDays {
		if !date.MatchString(refundDays[i]) || !regexp.MustCompile(`^\d+ days? since \d{4}-\d{2}-\d{2}$`).MatchString(ages[i]) {
			t.Errorf("row %d: refund date %q, age %q", i, refundDays[i], ages[i])
		}
	}
	if slices.Equal(ages, slices.Repeat([]string{ages[0]}, len(ages))) {
		t.Errorf("every age reads %q: ages do not count from the refund", ages[0])
	}
	if stale || !strings.Contains(fresh, "succeeded") || !strings.Contains(fresh, "next run") || !strings.Contains(fresh, "all customers") {
		t.Errorf("freshness %q (stale %v)", fresh, stale)
	}
	if trendBars == 0 {
		t.Error("the trend shows no opened cases")
	}
	if len(stripeHrefs) == 0 || !strings.HasPrefix(stripeHrefs[0], "https://dashboard.stripe.com/test/payments/") {
		t.Errorf("Stripe links %v", stripeHrefs)
	}

	// Search by a ledger id, a re_ id and a customer id.
	for _, q := range []string{target.LedgerRefundID, target.GatewayRefundIDs[0], target.CustomerID} {
		var found []string
		err := chromedp.Run(ctx,
			chromedp.Navigate(srv.URL+"/?status=open"),
			chromedp.WaitVisible(`#f-q`, chromedp.ByID),
			chromedp.SendKeys(`#f-q`, q, chromedp.ByID),
			chromedp.Click(`#apply`, chromedp.ByID),
			chromedp.WaitVisible(`#cases`, chromedp.ByID),
			chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases tbody tr')).map(tr => tr.dataset.id)`, &found),
		)
		if err != nil {
			t.Fatalf("search %s: %v", q, err)
		}
		if !slices.Contains(found, target.ID) {
			t.Errorf("search %q finds %v, not %s", q, found, target.ID)
		}
	}

	// A phone's width: nothing scrolls sideways, on the list or a case.
	for _, path := range []string{"/?status=open", "/cases/" + target.ID} {
		var width int
		err := chromedp.Run(ctx,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
			chromedp.Navigate(srv.URL+path),
			chromedp.WaitVisible(`main`, chromedp.ByQuery),
			chromedp.Evaluate(`document.documentElement.scrollWidth`, &width),
		)
		if err != nil {
			t.Fatal(err)
		}
		if width > 390 {
			t.Errorf("%s is %d px wide at a 390 px viewport", path, width)
		}
	}

	// Bulk acknowledge: three selected cases, one note.
	var selected []string
	err = chromedp.Run(ctx,
		chromedp.EmulateReset(),
		chromedp.Navigate(srv.URL+"/?status=open"),
		chromedp.WaitVisible(`#cases`, chromedp.ByID),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases tbody input[name=id]')).slice(0, 3).map(c => { c.checked = true; return c.value })`, &selected),
		chromedp.SendKeys(`#bulk-note`, "Batch sent to the payments team", chromedp.ByID),
		chromedp.Click(`#bulk-ack`, chromedp.ByID),
		chromedp.WaitVisible(`#flash`, chromedp.ByID),
		chromedp.Navigate(srv.URL+"/cases/"+target.ID),
		chromedp.WaitVisible(`#case-status`, chromedp.ByID),
		chromedp.FullScreenshot(&caseShot, 100),
	)
	if err != nil {
		t.Fatalf("bulk acknowledge: %v", err)
	}
	if len(selected) != 3 {
		t.Fatalf("selected %v", selected)
	}
	for _, id := range selected {
		var c struct {
			Status  string `json:"status"`
			History []struct {
				By, Action, Note string
			} `json:"history"`
		}
		apiGet(t, srv.URL, "/api/discrepancies/"+id, &c)
		last := c.History[len(c.History)-1]
		if c.Status != "acknowledged" || last.By != "alice" || last.Action != "acknowledged" || last.Note != "Batch sent to the payments team" {
			t.Errorf("%s after bulk acknowledge: %s, %+v", id, c.Status, last)
		}
	}
	if stillOpen, _ := apiCases(t, srv.URL, "status=open", 1000); len(stillOpen) != len(open)-3 {
		t.Errorf("%d open after acknowledging 3 of %d", len(stillOpen), len(open))
	}
	if dir := os.Getenv("REFUNDRECON_SCREENSHOT_DIR"); dir != "" {
		for name, png := range map[string][]byte{"review-page.png": shot, "review-case.png": caseShot} {
			if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}
