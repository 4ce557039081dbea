package web

import (
	"net/url"
	"strings"
	"testing"
	"unicode"
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
