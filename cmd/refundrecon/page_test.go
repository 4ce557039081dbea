package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
	"github.com/refundrecon/refundrecon/web"
)

const pageToken = "tok_finance_alice_7f3a9c"

// pageTokens: alice (finance, no role given in API_TOKENS) and one token
// of every other role.
var pageTokens = []reconcile.Token{
	{Name: "alice", Value: pageToken, Role: reconcile.RoleFinance},
	{Name: "vic", Value: "tok_viewer_vic_0123456789", Role: reconcile.RoleViewer},
	{Name: "sam", Value: "tok_support_sam_0123456789", Role: reconcile.RoleSupport},
	{Name: "ada", Value: "tok_admin_ada_0123456789", Role: reconcile.RoleAdmin},
}

// login signs c in with token through the form, as a browser does (the
// form's CSRF token included), and returns the answer.
func login(t *testing.T, c *http.Client, base, token, next string) *http.Response {
	t.Helper()
	form := get(t, c, base+"/login")
	csrf := between(form, `name="csrf" value="`, `"`)
	if csrf == "" {
		t.Fatalf("the login form carries no CSRF token:\n%s", form)
	}
	resp, err := c.PostForm(base+"/login", url.Values{"token": {token}, "next": {next}, "csrf": {csrf}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

// pageWorld serves the finance page over the demo's cases.
func pageWorld(t *testing.T) (*httptest.Server, *store.DB) {
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
	h := web.New(web.Config{Store: db, Tokens: pageTokens, PageSize: 10})
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, db
}

// browserProfile is a Chromium profile directory for one test, removed
// best effort: Chromium may still be writing it as it exits, which is no
// reason to fail the test.
func browserProfile(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "refundrecon-browser-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

func browser(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("no Chromium: CI must install it (apt-get install chromium)")
	}
	t.Skip("no Chromium installed (apt-get install chromium)")
	return ""
}

// A person signs in with a token, filters by kind, opens a case,
// acknowledges it with a note, and sees the status and the audit entry
// change: in a real headless Chromium.
func TestFinancePageInBrowser(t *testing.T) {
	chrome := browser(t)
	srv, db := pageWorld(t)

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chrome), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true), chromedp.Flag("no-first-run", true),
		chromedp.UserDataDir(browserProfile(t)), chromedp.WindowSize(1400, 1000))
	actx, cancel := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancel()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancel = context.WithTimeout(ctx, budget(t, 60*time.Second)) // no fixed bound: a loaded machine's browser is slow
	defer cancel()

	var loginURL, kinds, status, history, detail string
	err := chromedp.Run(ctx,
		chromedp.Navigate(srv.URL+"/?kind=gateway_failed"),
		chromedp.WaitVisible(`#token`, chromedp.ByID),
		chromedp.Location(&loginURL),
		chromedp.SendKeys(`#token`, pageToken, chromedp.ByID),
		chromedp.Click(`#signin`, chromedp.ByID),
		chromedp.WaitVisible(`#cases`, chromedp.ByID),
		// Filter by kind through the form.
		chromedp.SetValue(`#f-kind`, "gateway_canceled", chromedp.ByID),
		chromedp.Click(`#apply`, chromedp.ByID),
		// The old page's table is #cases too: wait for the filtered one.
		chromedp.WaitVisible(`table#cases[data-kind="gateway_canceled"]`, chromedp.ByQuery),
		chromedp.Evaluate(`Array.from(document.querySelectorAll('#cases tbody tr')).map(tr => tr.dataset.kind).join(',')`, &kinds),
		chromedp.Click(`a.case-link`, chromedp.ByQuery),
		chromedp.WaitVisible(`#case-status`, chromedp.ByID),
		chromedp.Text(`#detail`, &detail, chromedp.ByID),
		chromedp.SendKeys(`#ack-note`, "Asked Stripe support why it was canceled", chromedp.ByID),
		chromedp.Click(`#ack`, chromedp.ByID),
		chromedp.WaitVisible(`.notice`, chromedp.ByQuery),
		chromedp.Text(`#case-status`, &status, chromedp.ByID),
		chromedp.Text(`#history`, &history, chromedp.ByID),
	)
	if err != nil {
		t.Fatalf("browser: %v", err)
	}
	if u, _ := url.Parse(loginURL); u.Path != "/login" || u.Query().Get("next") != "/?kind=gateway_failed" {
		t.Errorf("unauthenticated visit went to %s, want the login form keeping the target", loginURL)
	}
	if kinds == "" || strings.Trim(strings.ReplaceAll(kinds, "gateway_canceled", ""), ",") != "" {
		t.Errorf("filtered list shows kinds %q, want only gateway_canceled", kinds)
	}
	if !strings.Contains(detail, "was canceled") {
		t.Errorf("case page detail %q", detail)
	}
	if status != "acknowledged" {
		t.Errorf("status after acknowledging: %q", status)
	}
	for _, s := range []string{"alice", "acknowledged", "Asked Stripe support why it was canceled", "open → acknowledged"} {
		if !strings.Contains(history, s) {
			t.Errorf("history lacks %q:\n%s", s, history)
		}
	}
	// The store's audit trail says the same.
	acked, err := db.Discrepancies(context.Background(), reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusAcknowledged}})
	if err != nil || len(acked) != 1 {
		t.Fatalf("acknowledged cases: %d (%v)", len(acked), err)
	}
	events, err := db.Events(context.Background(), acked[0].ID)
	if err != nil || events[len(events)-1].Actor != "alice" {
		t.Fatalf("audit trail: %+v (%v)", events, err)
	}
}

// Without a browser: the session cookie's attributes, CSRF, escaping,
// paging and the CSV download.
func TestFinancePageHTTP(t *testing.T) {
	srv, db := pageWorld(t)
	jar := newJar()
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	// A wrong token is refused; the right one sets an HttpOnly, SameSite cookie.
	if resp := login(t, c, srv.URL, "nope", "/"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("wrong token: %v", resp.StatusCode)
	}
	resp := login(t, c, srv.URL, pageToken, "//evil.example/")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Fatalf("login: %v %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var cookie *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "refundrecon_session" {
			cookie = ck
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || strings.Contains(cookie.Value, pageToken) {
		t.Fatalf("session cookie %+v", cookie)
	}

	// Paging: 10 a page over the demo's cases, by the store's cursor.
	body := get(t, c, srv.URL+"/?status=all")
	next := ""
	if m := regexp.MustCompile(`<a href="/\?([^"]*)" rel="next"`).FindStringSubmatch(body); m != nil {
		next = strings.ReplaceAll(m[1], "&amp;", "&")
	}
	if next == "" {
		t.Fatalf("the first page has no next link:\n%.500s", body)
	}
	body = get(t, c, srv.URL+"/?"+next)
	if !strings.Contains(body, "10 shown of") || !strings.Contains(body, `rel="first"`) {
		t.Errorf("page 2 does not say 10 shown:\n%.500s", body)
	}
	// Bad filters are named, not fatal.
	body = get(t, c, srv.URL+"/?kind=bogus&from=yesterday&min=lots&cur=usd")
	for _, s := range []string{"unknown kind", "dates are YYYY-MM-DD", "minimum amount"} {
		if !strings.Contains(body, s) {
			t.Errorf("list does not say %q", s)
		}
	}
	// A POST without the form's CSRF token changes nothing.
	ds, _ := db.Discrepancies(context.Background(), reconcile.CaseFilter{})
	id := ds[0].ID
	resp, err := c.PostForm(srv.URL+"/cases/"+id+"/ack", url.Values{"note": {"forged"}})
	if err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("ack without CSRF token: %v %v", resp.StatusCode, err)
	}
	if d, _ := db.Discrepancy(context.Background(), id); d.Status != reconcile.StatusOpen {
		t.Fatalf("a forged POST changed the case to %s", d.Status)
	}
	// Resolving needs a note.
	page := get(t, c, srv.URL+"/cases/"+id)
	csrf := between(page, `name="csrf" value="`, `"`)
	resp, err = c.PostForm(srv.URL+"/cases/"+id+"/resolve", url.Values{"csrf": {csrf}, "note": {""}})
	if err != nil || resp.StatusCode != http.StatusConflict {
		t.Fatalf("resolve without a note: %v %v", resp.StatusCode, err)
	}
	// The CSV download follows the filter.
	csvBody := get(t, c, srv.URL+"/export.csv?status=all&kind=missing_in_ledger")
	if lines := strings.Count(strings.TrimSpace(csvBody), "\n"); lines != 3 || !strings.HasPrefix(csvBody, "id,kind,") {
		t.Errorf("CSV of missing_in_ledger has %d rows:\n%s", lines, csvBody)
	}
	// Without a session nothing is shown.
	resp, err = http.Get(srv.URL + "/cases/" + id)
	if err != nil {
		t.Fatal(err)
	}
	if final := resp.Request.URL.Path; final != "/login" {
		t.Errorf("anonymous case view ended at %s", final)
	}
	if resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
		t.Error("security headers missing")
	}
}

func get(t *testing.T, c *http.Client, u string) string {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d\n%s", u, resp.StatusCode, b.String())
	}
	return b.String()
}

func between(s, from, to string) string {
	_, after, ok := strings.Cut(s, from)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(after, to)
	return v
}

func newJar() http.CookieJar {
	j, err := cookiejarNew()
	if err != nil {
		panic(errors.New("cookie jar: " + err.Error()))
	}
	return j
}

func cookiejarNew() (http.CookieJar, error) { return cookiejar.New(nil) }

// A signed-in user is never sent off-site by the login's next: a TAB or a
// newline (which browsers drop, making "//host"), a backslash, a scheme.
func TestLoginNextStaysOnSite(t *testing.T) {
	srv, _ := pageWorld(t)
	for _, next := range []string{"/\t/evil.example/phish", "/\n/evil.example", "/\\evil.example", "//evil.example", "https://evil.example",
		"/%09/evil.example", "javascript:alert(1)", "/\r\n/evil.example"} {
		c := &http.Client{Jar: newJar(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if loc := login(t, c, srv.URL, pageToken, next).Header.Get("Location"); loc != "/" {
			t.Errorf("next %q: redirected to %q", next, loc)
		}
		// The form shown keeps only a safe target too.
		if form := get(t, c, srv.URL+"/login?next="+url.QueryEscape(next)); !strings.Contains(form, `name="next" value="/"`) {
			t.Errorf("next %q kept in the form", next)
		}
	}
	// The real query of the issue: /login?next=/%09/host/phish.
	c := &http.Client{Jar: newJar(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := get(t, c, srv.URL+"/login?next=/%09/host/phish")
	if next := between(form, `name="next" value="`, `"`); next != "/" {
		t.Errorf("/login?next=/%%09/host/phish keeps %q", next)
	}
	if loc := login(t, c, srv.URL, pageToken, "/cases/x?status=all").Header.Get("Location"); loc != "/cases/x?status=all" {
		t.Errorf("a plain same-site target became %q", loc)
	}
}

// A login POST without the form's CSRF token (or with another one) is
// refused: nobody can sign a browser in under an attacker's token.
func TestLoginNeedsCSRFToken(t *testing.T) {
	srv, _ := pageWorld(t)
	c := &http.Client{Jar: newJar(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for name, form := range map[string]url.Values{
		"no token":      {"token": {pageToken}},
		"made-up token": {"token": {pageToken}, "csrf": {"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"}},
	} {
		resp, err := c.PostForm(srv.URL+"/login", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden || len(resp.Cookies()) != 0 && resp.Cookies()[0].Name == "refundrecon_session" {
			t.Errorf("%s: %d %v", name, resp.StatusCode, resp.Cookies())
		}
	}
	// The form's own token signs in.
	if resp := login(t, c, srv.URL, pageToken, "/"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login with the form's token: %d", resp.StatusCode)
	}
}

// Signing out ends the session on the server: a copy of the cookie taken
// before is refused after.
func TestLogoutEndsTheSessionForGood(t *testing.T) {
	srv, _ := pageWorld(t)
	c := &http.Client{Jar: newJar(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp := login(t, c, srv.URL, pageToken, "/")
	var captured *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == "refundrecon_session" {
			captured = ck
		}
	}
	if captured == nil {
		t.Fatal("no session cookie")
	}
	withCaptured := func() int {
		req, _ := http.NewRequest("GET", srv.URL+"/", nil)
		req.AddCookie(captured)
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := withCaptured(); code != http.StatusOK {
		t.Fatalf("the cookie before signing out: %d", code)
	}
	page := get(t, c, srv.URL+"/")
	csrf := between(page, `name="csrf" value="`, `"`)
	// Signing out needs the page's form token too.
	if resp, err := c.PostForm(srv.URL+"/logout", url.Values{}); err != nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("logout without the form token: %v %v", resp.StatusCode, err)
	}
	if resp, err := c.PostForm(srv.URL+"/logout", url.Values{"csrf": {csrf}}); err != nil || resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %v %v", resp.StatusCode, err)
	}
	if code := withCaptured(); code != http.StatusSeeOther {
		t.Fatalf("the cookie captured before signing out still opens the page: %d", code)
	}
}

// Every role against every page route: viewer and support read; only
// finance and admin see the review forms and may post them (403
// otherwise, and the case does not change).
func TestPageRoles(t *testing.T) {
	srv, db := pageWorld(t)
	ds, err := db.Discrepancies(context.Background(), reconcile.CaseFilter{Statuses: []reconcile.Status{reconcile.StatusOpen}})
	if err != nil || len(ds) < len(pageTokens) {
		t.Fatalf("%d open cases (%v)", len(ds), err)
	}
	for i, tok := range pageTokens {
		t.Run(string(tok.Role), func(t *testing.T) {
			id := ds[i].ID
			c := &http.Client{Jar: newJar(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			if resp := login(t, c, srv.URL, tok.Value, "/"); resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("login: %d", resp.StatusCode)
			}
			get(t, c, srv.URL+"/")
			get(t, c, srv.URL+"/export.csv")
			page := get(t, c, srv.URL+"/cases/"+id)
			csrf := between(page, `name="csrf" value="`, `"`) // the sign-out form's, at least
			reviewer := tok.Role.Allows(reconcile.ActionReview)
			if shown := strings.Contains(page, `id="ack"`) || strings.Contains(page, `id="resolve"`); shown != reviewer {
				t.Errorf("review buttons shown: %v, want %v", shown, reviewer)
			}
			for _, action := range []string{"ack", "resolve"} {
				resp, err := c.PostForm(srv.URL+"/cases/"+id+"/"+action, url.Values{"csrf": {csrf}, "note": {"done by " + tok.Name}})
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				want := http.StatusForbidden
				if reviewer {
					want = http.StatusSeeOther
				}
				if resp.StatusCode != want {
					t.Errorf("POST %s: %d, want %d", action, resp.StatusCode, want)
				}
			}
			d, err := db.Discrepancy(context.Background(), id)
			if err != nil {
				t.Fatal(err)
			}
			if want := map[bool]reconcile.Status{true: reconcile.StatusResolved, false: reconcile.StatusOpen}[reviewer]; d.Status != want {
				t.Errorf("case %s after %s's POSTs: %s, want %s", id, tok.Role, d.Status, want)
			}
		})
	}
}
