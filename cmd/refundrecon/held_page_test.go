package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/web"
)

// TestHeldRunBannerAdminOnly: the finance page shows a held run to every
// role, with release and discard forms for admin only; a POST by any other
// role is 403, one without the session's CSRF token too, and changes
// nothing; admin's release ends the hold in admin's name.
func TestHeldRunBannerAdminOnly(t *testing.T) {
	w := newSQLiteWorld(t)
	misconfiguredShop(t, w, 25, 0)
	id := runID(t, mustRun(t, w, "run", "--format", "json"))
	srv := httptest.NewServer(web.New(web.Config{Store: w.db, Tokens: pageTokens, PageSize: 10}))
	t.Cleanup(srv.Close)
	status := func() reconcile.RunStatus {
		r, err := w.db.Run(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return r.Status
	}
	var admin *http.Client
	var adminCSRF string
	for _, tok := range pageTokens {
		c := &http.Client{Jar: newJar(), CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if resp := login(t, c, srv.URL, tok.Value, "/"); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("login %s: %d", tok.Name, resp.StatusCode)
		}
		page := get(t, c, srv.URL+"/")
		if !strings.Contains(page, `id="held-`+id+`"`) || !strings.Contains(page, "25 new discrepancies") {
			t.Errorf("%s: the page shows no banner for held run %s", tok.Role, id)
		}
		isAdmin := tok.Role == reconcile.RoleAdmin
		if shown := strings.Contains(page, `action="/runs/`+id+`/release"`); shown != isAdmin {
			t.Errorf("%s: release form shown %v, want %v", tok.Role, shown, isAdmin)
		}
		csrf := between(page, `name="csrf" value="`, `"`)
		if isAdmin {
			admin, adminCSRF = c, csrf
			continue
		}
		for _, verb := range []string{"release", "discard"} {
			resp, err := c.PostForm(srv.URL+"/runs/"+id+"/"+verb, url.Values{"csrf": {csrf}, "note": {"x"}})
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Errorf("%s POST %s: %d, want 403", tok.Role, verb, resp.StatusCode)
			}
		}
	}
	if s := status(); s != reconcile.RunHeld {
		t.Fatalf("after other roles' POSTs the run is %s, want held", s)
	}
	resp, err := admin.PostForm(srv.URL+"/runs/"+id+"/release", url.Values{"csrf": {"forged"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || status() != reconcile.RunHeld {
		t.Fatalf("release without the CSRF token: %d, run %s", resp.StatusCode, status())
	}
	resp, err = admin.PostForm(srv.URL+"/runs/"+id+"/release", url.Values{"csrf": {adminCSRF}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || status() != reconcile.RunSucceeded {
		t.Fatalf("admin's release: %d, run %s", resp.StatusCode, status())
	}
	r, _ := w.db.Run(context.Background(), id)
	if r.Held == nil || r.Held.State != reconcile.HoldReleased || r.Held.By != "ada" {
		t.Errorf("hold after release = %+v, want released by ada", r.Held)
	}
	if page := get(t, admin, srv.URL+"/"); strings.Contains(page, `id="held-`+id+`"`) {
		t.Errorf("the banner stays after release")
	}
}
