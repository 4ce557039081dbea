package web

import (
	"net/url"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/refundrecon/refundrecon/reconcile"
)

// safeNext keeps only plain same-site paths: the issue's
// /login?next=/%09/host/phish (a TAB, which browsers drop) and its kin go
// to "/".
func TestLoginNextRefusesOffSiteTargets(t *testing.T) {
	for next, want := range map[string]string{
		"/":                             "/",
		"/cases/dsc_1":                  "/cases/dsc_1",
		"/?status=all&kind=x":           "/?status=all&kind=x",
		"/cases/a?next=//x":             "/cases/a?next=//x",
		"/cases/a%20b":                  "/",
		"":                              "/",
		"\t/host/phish":                 "/",
		"/\t/host/phish":                "/",
		"/\n/host":                      "/",
		"/\r/host":                      "/",
		"/\x00/host":                    "/",
		"/\x7f/host":                    "/",
		"/\u2028/host":                  "/",
		"/\u00a0/host":                  "/",
		"/%09/host/phish":               "/",
		"/%5C%5Chost":                   "/",
		"/%2F%2Fhost":                   "/",
		"//host/phish":                  "/",
		"/\\host/phish":                 "/",
		"\\\\host":                      "/",
		"https://host/":                 "/",
		"javascript:alert(1)":           "/",
		"/ /host":                       "/",
		"host/phish":                    "/",
		"/" + strings.Repeat("a", 3000): "/",
	} {
		if got := safeNext(next); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", next, got, want)
		}
	}
}

// Whatever comes in, what goes out is a path on this site, also as a
// browser reads it (dropping tabs and newlines, "\" as "/").
func FuzzLoginNext(f *testing.F) {
	for _, s := range []string{"/", "/\t/host", "//host", "/\\host", "/cases/x?y=z", "https://h", "/%09/h", "/\u3000/h"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, next string) {
		got := safeNext(next)
		if got != "/" && got != next {
			t.Fatalf("safeNext(%q) = %q: neither the input nor /", next, got)
		}
		browser := strings.NewReplacer("\t", "", "\n", "", "\r", "", "\\", "/").Replace(got)
		u, err := url.Parse(browser)
		if err != nil || u.Scheme != "" || u.Host != "" || !strings.HasPrefix(browser, "/") || strings.HasPrefix(browser, "//") {
			t.Fatalf("safeNext(%q) = %q, which a browser reads as off-site", next, got)
		}
		for _, c := range got {
			if unicode.IsControl(c) || unicode.IsSpace(c) {
				t.Fatalf("safeNext(%q) = %q keeps %U", next, got, c)
			}
		}
		if p, err := url.PathUnescape(u.Path); err == nil && strings.HasPrefix(p, "//") {
			t.Fatalf("safeNext(%q) = %q decodes to %q", next, got, p)
		}
	})
}

// The sessions held are bounded: past maxSessions the one closest to its
// end goes, the new one works, and an ended session is refused.
func TestLoginSessionsBounded(t *testing.T) {
	ss := newSessions()
	now := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	tok := reconcile.Token{Name: "alice", Value: "tok_alice_0123456789abcdef", Role: reconcile.RoleFinance}
	first, _ := ss.start(tok, now)
	var last string
	for i := range maxSessions {
		last, _ = ss.start(tok, now.Add(time.Duration(i+1)*time.Millisecond))
	}
	if len(ss.byID) != maxSessions {
		t.Fatalf("%d sessions held", len(ss.byID))
	}
	if _, ok := ss.get(first, now); ok {
		t.Error("the oldest session survived the bound")
	}
	s, ok := ss.get(last, now)
	if !ok || s.Name != "alice" || s.Role != reconcile.RoleFinance || s.CSRF == "" {
		t.Fatalf("newest session: %+v %v", s, ok)
	}
	ss.end(last)
	if _, ok := ss.get(last, now); ok {
		t.Error("an ended session is still accepted")
	}
	if _, ok := ss.get(first, now.Add(sessionTTL+time.Hour)); ok {
		t.Error("an expired session is accepted")
	}
}
