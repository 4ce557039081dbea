package main

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

const (
	supportToken = "tok_support_sam_4b7d1e9a"
	viewerToken  = "tok_viewer_vic_8c2e5f1b"
)

// POST /api/lookup answers the lookup JSON; 404 with the same JSON when
// nothing matched; a missing token gets 401, a viewer's 403.
func TestAPILookup(t *testing.T) {
	w := newWorld(t)
	seedSupport(w)
	p := startServe(t, w, map[string]string{"API_TOKENS": "sam:" + supportToken + ":support,vic:" + viewerToken + ":viewer"})

	code, body := p.request(http.MethodPost, "/api/lookup", supportToken, `{"query": "ann@example.com"}`)
	if code != http.StatusOK {
		t.Fatalf("lookup: %d %s", code, body)
	}
	l := decodeLookup(t, string(body))
	if len(l.Customers) != 2 || len(l.Refunds) != 3 || l.Query != "ann@example.com" {
		t.Fatalf("lookup: %+v", l)
	}
	code, body = p.request(http.MethodPost, "/api/lookup", supportToken, `{"query": "nobody@example.com"}`)
	if code != http.StatusNotFound {
		t.Fatalf("nothing matched: %d %s", code, body)
	}
	if l := decodeLookup(t, string(body)); len(l.Customers) != 0 || !strings.Contains(l.Verdict, "Nothing matched") {
		t.Fatalf("nothing matched: %+v", l)
	}
	if code, _ := p.request(http.MethodPost, "/api/lookup", "", `{"query": "ann@example.com"}`); code != http.StatusUnauthorized {
		t.Errorf("without a token: %d, want 401", code)
	}
	if code, _ := p.request(http.MethodPost, "/api/lookup", viewerToken, `{"query": "ann@example.com"}`); code != http.StatusForbidden {
		t.Errorf("a viewer's token: %d, want 403", code)
	}
	if code, _ := p.request(http.MethodPost, "/api/lookup", supportToken, `{"q": 1}`); code != http.StatusBadRequest {
		t.Errorf("bad body: %d, want 400", code)
	}
}

// The support page in headless Chromium: sign in, type what the customer
// gave, read the verdict as the CLI prints it, follow a case link; hostile
// input comes back as text.
func TestCheckPageInBrowser(t *testing.T) {
	chrome := browser(t)
	w := newWorld(t)
	seedSupport(w)
	p := startServe(t, w, map[string]string{"API_TOKENS": "sam:" + supportToken})

	profile := browserProfile(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(profile), chromedp.WindowSize(1200, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, budget(t, 90*time.Second)) // no fixed bound: a loaded machine's browser is slow
	defer cancel()

	const hostile = `<script>window.pwned=1</script><img src=x onerror="window.pwned=1">@example.com`
	var verdict, caseTitle, hostileText, hostileValue string
	var pwned bool
	err := chromedp.Run(ctx,
		chromedp.Navigate(p.base+"/check"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.SendKeys(`#token`, supportToken, chromedp.ByID),
		chromedp.Click(`#signin`, chromedp.ByID),
		chromedp.WaitVisible(`#q`, chromedp.ByID),
		chromedp.SendKeys(`#q`, "ann@example.com", chromedp.ByID),
		chromedp.Click(`#check`, chromedp.ByID),
		chromedp.WaitVisible(`#verdict`, chromedp.ByID),
		chromedp.Text(`#verdict`, &verdict, chromedp.ByID),
		chromedp.Click(`#cases a`, chromedp.ByQuery),
		chromedp.WaitVisible(`#case-status`, chromedp.ByID),
		chromedp.Title(&caseTitle),
		chromedp.Navigate(p.base+"/check?q="+url.QueryEscape(hostile)),
		chromedp.WaitVisible(`#verdict`, chromedp.ByID),
		chromedp.Text(`#verdict`, &hostileText, chromedp.ByID),
		chromedp.Value(`#q`, &hostileValue, chromedp.ByID),
		chromedp.Evaluate(`window.pwned === 1`, &pwned),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	_ = chromedp.Cancel(ctx) // closes the browser and waits for it
	for _, s := range []string{"2 customers", "cus_1", "cus_2", "NOT REFUNDED", "ARN) is 74567891234567890123456", "5–10 business days"} {
		if !strings.Contains(verdict, s) {
			t.Errorf("verdict lacks %q:\n%s", s, verdict)
		}
	}
	if !strings.Contains(caseTitle, "dsc_") {
		t.Errorf("the case link led to %q", caseTitle)
	}
	if pwned || !strings.Contains(hostileText, "Nothing matched") || !strings.Contains(hostileText, "<script>") || hostileValue != hostile {
		t.Errorf("hostile input: pwned=%v text %q value %q", pwned, hostileText, hostileValue)
	}
}
