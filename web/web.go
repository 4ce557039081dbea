// Package web is the finance review page served by serve at /: a
// server-rendered html/template page that works without JavaScript. It
// lists cases with filters and paging, shows a case's two sides and
// history, and records acknowledgements and resolutions with the reviewer's
// token name. It imports reconcile, report and money, never an adapter: cmd
// gives it a Store.
package web

import (
	"cmp"
	"context"
	"embed"
	"errors"
	"html/template"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"

	"github.com/refundrecon/refundrecon/money"
	"github.com/refundrecon/refundrecon/reconcile"
)

// Store is what the page reads and writes.
type Store interface {
	// Cases returns one page of the cases f selects; Tally counts them all.
	Cases(ctx context.Context, f reconcile.CaseFilter) (reconcile.CasePage, error)
	Tally(ctx context.Context, f reconcile.CaseFilter, now time.Time) ([]reconcile.CaseTally, error)
	// Currencies lists the currencies money is at risk in.
	Currencies(ctx context.Context) ([]string, error)
	// Trend replays the history into one entry per day from from to to.
	Trend(ctx context.Context, from, to time.Time) ([]reconcile.TrendDay, error)
	// Runs returns the most recent runs, newest first.
	Runs(ctx context.Context, limit int) (reconcile.RunList, error)
	Discrepancy(ctx context.Context, id string) (reconcile.Discrepancy, error)
	History(ctx context.Context, id string) ([]reconcile.CaseEvent, error)
	Acknowledge(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error)
	Resolve(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error)
}

// Config configures the page.
type Config struct {
	Store Store
	// Tokens are the API tokens, with their roles: the page signs in with
	// the same tokens and the same check as the API.
	Tokens []reconcile.Token
	// SecureCookies marks the session cookie Secure always; without it, it
	// is Secure when the request came over TLS (or X-Forwarded-Proto https).
	SecureCookies bool
	// PageSize is the number of cases a page shows (default 50).
	PageSize int
	// NextRun returns the next scheduled run after a time; nil when none
	// is scheduled.
	NextRun func(time.Time) time.Time
	// StripeTestMode links to the Stripe Dashboard's test-mode pages (a
	// test key, sk_test_…).
	StripeTestMode bool
	// Paging marks the cases that page, by the alerts' rule
	// (ALERT_PAGE_KINDS, ALERT_PAGE_MIN_AMOUNT); the zero value marks the
	// default page kinds.
	Paging reconcile.Paging
	Now    func() time.Time
	Logger *slog.Logger
}

// Handler serves the page's routes.
type Handler struct {
	cfg      Config
	mux      *http.ServeMux
	log      *slog.Logger
	tokens   *reconcile.Tokens
	sessions *sessions
	pages    *template.Template
}

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"upper": strings.ToUpper,
	"day":   func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"stamp": func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04 UTC") },
	"money": func(v *int64, cur string) string {
		if v == nil {
			return "—"
		}
		return money.Format(*v, cur)
	},
	"atRisk": func(d reconcile.Discrepancy) string {
		a, cur := reconcile.AtRisk(d)
		return money.Format(a, cur)
	},
	"orDash": func(s string) string { return cmp.Or(s, "—") },
	"join":   strings.Join,
	"page":   reconcile.Paging{}.Pages, // New binds the configured rule
}).Funcs(listFuncs).ParseFS(templateFS, "templates/*.html"))

// Routes the page serves; serve mounts them on its mux.
var Routes = []string{"GET /{$}", "GET /login", "POST /login", "POST /logout", "GET /cases/{id}",
	"POST /cases/{id}/ack", "POST /cases/{id}/resolve", "GET /export.csv", "POST /cases/ack",
	"POST /runs/{id}/release", "POST /runs/{id}/discard"}

// New builds the page's handler.
func New(cfg Config) *Handler {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PageSize <= 0 {
		cfg.PageSize = 50
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	h := &Handler{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, tokens: reconcile.NewTokens(cfg.Tokens), sessions: newSessions(),
		pages: template.Must(pages.Clone()).Funcs(template.FuncMap{"page": cfg.Paging.Pages})}
	h.mux.HandleFunc("GET /{$}", h.Require(reconcile.ActionRead, h.list))
	h.mux.HandleFunc("GET /login", h.loginForm)
	h.mux.HandleFunc("POST /login", h.loginSubmit)
	h.mux.HandleFunc("POST /logout", h.logout)
	h.mux.HandleFunc("GET /cases/{id}", h.Require(reconcile.ActionRead, h.showCase))
	h.mux.HandleFunc("POST /cases/{id}/ack", h.Require(reconcile.ActionReview, h.review("ack")))
	h.mux.HandleFunc("POST /cases/{id}/resolve", h.Require(reconcile.ActionReview, h.review("resolve")))
	h.mux.HandleFunc("GET /export.csv", h.Require(reconcile.ActionRead, h.export))
	h.mux.HandleFunc("POST /cases/ack", h.Require(reconcile.ActionReview, h.bulkAck))
	h.mux.HandleFunc(HeldRoutes[0], h.Require(reconcile.ActionRelease, h.endHold("release")))
	h.mux.HandleFunc(HeldRoutes[1], h.Require(reconcile.ActionRelease, h.endHold("discard")))
	return h
}

func (h *Handler) now() time.Time { return h.cfg.Now() }

// ServeHTTP serves the page with headers that keep it from being framed or
// sniffed, and a policy that allows no script and nothing from elsewhere.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	hd.Set("Cache-Control", "no-store")
	h.mux.ServeHTTP(w, r)
}

// Require sends a request without a session to the login form, refuses
// (403) a session whose role does not allow action, and makes a POST carry
// the session's CSRF token. Every page route goes through it; new ones too.
func (h *Handler) Require(action reconcile.Action, next func(http.ResponseWriter, *http.Request, Session)) http.HandlerFunc {
	return h.require(func(r reconcile.Role) bool { return r.Allows(action) }, next)
}

// RequireRole is Require for a route open to min and every role above it
// (support for the support desk's page, say).
func (h *Handler) RequireRole(min reconcile.Role, next func(http.ResponseWriter, *http.Request, Session)) http.HandlerFunc {
	return h.require(func(r reconcile.Role) bool { return r.AtLeast(min) }, next)
}

func (h *Handler) require(allowed func(reconcile.Role) bool, next func(http.ResponseWriter, *http.Request, Session)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s, ok := h.session(r)
		if !ok {
			if r.Method != http.MethodGet {
				http.Error(w, "sign in first", http.StatusUnauthorized)
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !allowed(s.Role) {
			h.log.Warn("page: role refused", "actor", s.Name, "role", s.Role, "method", r.Method, "path", r.URL.Path)
			http.Error(w, "your token's role ("+string(s.Role)+") may not do this", http.StatusForbidden)
			return
		}
		if r.Method == http.MethodPost {
			r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
			if err := r.ParseForm(); err != nil || !s.validCSRF(r.PostFormValue("csrf")) {
				http.Error(w, "the form is stale or was not sent by this page; reload and try again", http.StatusForbidden)
				return
			}
		}
		next(w, r, s)
	}
}

func (h *Handler) render(w http.ResponseWriter, code int, name string, data any) {
	var b strings.Builder
	if err := h.pages.ExecuteTemplate(&b, name, data); err != nil {
		h.log.Error("render page", "page", name, "error", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(code)
	_, _ = w.Write([]byte(b.String()))
}

type loginData struct {
	Next, Error, CSRF string
	Configured        bool
}

func (h *Handler) loginForm(w http.ResponseWriter, r *http.Request) {
	h.render(w, http.StatusOK, "login.html", loginData{Next: safeNext(r.URL.Query().Get("next")), CSRF: h.loginCSRF(w, r), Configured: h.tokens.Len() > 0})
}

func (h *Handler) loginSubmit(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	if !validLoginCSRF(r) {
		h.log.Warn("page login refused: no valid CSRF token", "remote", r.RemoteAddr)
		http.Error(w, "the sign-in form is stale or was not sent by this page; reload it and try again", http.StatusForbidden)
		return
	}
	next := safeNext(r.PostFormValue("next"))
	t, ok := h.tokens.Check(strings.TrimSpace(r.PostFormValue("token")))
	if !ok {
		h.log.Warn("page login refused", "remote", r.RemoteAddr)
		h.render(w, http.StatusUnauthorized, "login.html", loginData{Next: next, Error: "That token is not valid.", CSRF: h.loginCSRF(w, r), Configured: h.tokens.Len() > 0})
		return
	}
	http.SetCookie(w, h.cookie(r, loginCookie, "", -1))
	h.setSession(w, r, t)
	h.log.Info("page sign-in", "actor", t.Name, "role", t.Role)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// logout ends the session on the server: the cookie, wherever a copy of it
// is, no longer signs anyone in. Only the session's own form may do it.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s, ok := h.session(r)
	if ok {
		r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
		if err := r.ParseForm(); err != nil || !s.validCSRF(r.PostFormValue("csrf")) {
			http.Error(w, "the form is stale or was not sent by this page; reload and try again", http.StatusForbidden)
			return
		}
		h.log.Info("page sign-out", "actor", s.Name)
	}
	h.endSession(w, r)
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

// safeNext keeps a redirect target on this site: a plain path starting
// with one "/", of printable characters without spaces, backslashes or a
// scheme. Browsers drop tabs and newlines from URLs and read "\" as "/",
// so "/\t/evil.example" is "//evil.example": anything unusual is refused
// rather than cleaned.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || len(next) > 2048 || !plain(next) {
		return "/"
	}
	u, err := url.Parse(next)
	// The decoded path must be plain too: "/%09/host" or "/%5C%5Chost"
	// is refused like what it decodes to.
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" ||
		!strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") || !plain(u.Path) {
		return "/"
	}
	return next
}

// plain: printable, no spaces, no control characters, no backslash.
func plain(s string) bool {
	for _, c := range s {
		if c < 0x21 || c == 0x7f || c == '\\' || unicode.IsControl(c) || unicode.IsSpace(c) || !unicode.IsPrint(c) {
			return false
		}
	}
	return true
}

func (h *Handler) review(action string) func(http.ResponseWriter, *http.Request, Session) {
	return func(w http.ResponseWriter, r *http.Request, s Session) {
		id := r.PathValue("id")
		note := strings.TrimSpace(r.PostFormValue("note"))
		var err error
		if action == "ack" {
			_, err = h.cfg.Store.Acknowledge(r.Context(), id, s.Name, note)
		} else {
			_, err = h.cfg.Store.Resolve(r.Context(), id, s.Name, note)
		}
		switch {
		case errors.Is(err, reconcile.ErrNotFound):
			http.Error(w, "no such case", http.StatusNotFound)
			return
		case errors.Is(err, reconcile.ErrConflict), errors.Is(err, reconcile.ErrInvalid):
			http.Error(w, err.Error(), http.StatusConflict)
			return
		case err != nil:
			h.fail(w, action, err)
			return
		}
		h.log.Info("case reviewed", "discrepancy_id", id, "action", action, "actor", s.Name)
		http.Redirect(w, r, "/cases/"+url.PathEscape(id)+"?done="+action, http.StatusSeeOther)
	}
}

func (h *Handler) fail(w http.ResponseWriter, what string, err error) {
	h.log.Error("page", "action", what, "error", err)
	http.Error(w, "something went wrong; the error is in the server's log", http.StatusInternalServerError)
}
