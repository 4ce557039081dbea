// Package server is serve's HTTP side: health and readiness, Prometheus
// metrics, the JSON API with bearer tokens, and the Stripe webhook endpoint
// with the worker that re-checks a customer when Stripe reports a refund
// change.
//
// It imports reconcile and Prometheus's client only; never store, gateway or
// another adapter. It declares the small interfaces it consumes (Store, the
// check and webhook functions of Config) and cmd wires the adapters in.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
	"unicode"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Store is what the API reads and writes.
type Store interface {
	// Ping checks that the database answers (readiness).
	Ping(ctx context.Context) error
	// Cases returns one page of the cases f selects; a bad cursor is an
	// error wrapping reconcile.ErrInvalid.
	Cases(ctx context.Context, f reconcile.CaseFilter) (reconcile.CasePage, error)
	// Discrepancy returns one case or an error wrapping
	// reconcile.ErrNotFound; History its history, oldest first.
	Discrepancy(ctx context.Context, id string) (reconcile.Discrepancy, error)
	History(ctx context.Context, id string) ([]reconcile.CaseEvent, error)
	// Runs returns the most recent runs, newest first.
	Runs(ctx context.Context, limit int) (reconcile.RunList, error)
	// Acknowledge and Resolve record a person's review in the audit trail,
	// actor being the API token's name. Errors wrap reconcile.ErrNotFound,
	// reconcile.ErrConflict or reconcile.ErrInvalid.
	Acknowledge(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error)
	Resolve(ctx context.Context, id, actor, note string) (reconcile.Discrepancy, error)
}

// Limits of the API.
const (
	// MaxWebhookBody is the largest webhook accepted; Stripe's events are a
	// few kilobytes.
	MaxWebhookBody = 1 << 20
	// maxReviewBody bounds an ack or resolve request.
	maxReviewBody = 64 << 10
	// maxID bounds a customer or discrepancy id in a path.
	maxID = 255
	// DefaultCheckTimeout bounds an on-demand customer check.
	DefaultCheckTimeout = 2 * time.Minute
)

// Config configures the HTTP handler.
type Config struct {
	Store Store
	// Check runs the on-demand reconciliation of one customer (through the
	// same path as every run: the lock, the after-run hooks). An error
	// wrapping reconcile.ErrLocked means another reconciliation is running.
	Check func(ctx context.Context, customerID string) (reconcile.Report, error)
	// CheckTimeout bounds a check (default DefaultCheckTimeout). A check is
	// not cancelled when its client goes away: a run either finishes or is
	// recorded as failed, never left half done.
	CheckTimeout time.Duration
	// Webhook verifies a Stripe webhook (raw body, Stripe-Signature header)
	// and returns its refund event; ok false for other event types. Nil
	// when no STRIPE_WEBHOOK_SECRET is set: the endpoint answers 503.
	Webhook func(payload []byte, signature string) (ev reconcile.RefundEvent, ok bool, err error)
	// Recheck queues a re-check of the event's customer (a Rechecker's
	// Enqueue). Dropped makes the endpoint answer 503 (Stripe delivers the
	// event again later; the nightly run covers the customer anyway).
	Recheck func(reconcile.RefundEvent) Enqueued
	// Tokens are the accepted API tokens with their roles; none refuses
	// every API request.
	Tokens  []reconcile.Token
	Metrics *Metrics
	Logger  *slog.Logger
	// Page serves the finance review page on PageRoutes ("GET /{$}",
	// "GET /login", …); nil leaves them 404.
	Page       http.Handler
	PageRoutes []string
}

// Server is the HTTP handler of serve.
type Server struct {
	cfg    Config
	mux    *http.ServeMux
	log    *slog.Logger
	tokens *reconcile.Tokens
}

// New builds the handler and its routes: health, metrics, the API, the
// Stripe webhook, and the finance and support pages (cfg.Page, built by
// package web) on cfg.PageRoutes.
func New(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics(MetricsConfig{Logger: cfg.Logger})
	}
	if cfg.CheckTimeout <= 0 {
		cfg.CheckTimeout = DefaultCheckTimeout
	}
	s := &Server{cfg: cfg, mux: http.NewServeMux(), log: cfg.Logger, tokens: reconcile.NewTokens(cfg.Tokens)}
	s.route("GET /healthz", s.healthz)
	s.route("GET /readyz", s.readyz)
	s.route("GET /metrics", cfg.Metrics.Handler().ServeHTTP)
	s.route("GET /api/discrepancies", s.Require(reconcile.ActionRead, s.listCases))
	s.route("GET /api/discrepancies/{id}", s.Require(reconcile.ActionRead, s.showCase))
	s.route("GET /api/runs", s.Require(reconcile.ActionRead, s.listRuns))
	s.route("POST /api/runs/{id}/release", s.Require(reconcile.ActionRelease, s.endHold("release")))
	s.route("POST /api/runs/{id}/discard", s.Require(reconcile.ActionRelease, s.endHold("discard")))
	s.route("POST /api/customers/{id}/reconcile", s.Require(reconcile.ActionCheck, s.reconcileCustomer))
	s.route("POST /api/discrepancies/{id}/ack", s.Require(reconcile.ActionReview, s.review("ack")))
	s.route("POST /api/discrepancies/{id}/resolve", s.Require(reconcile.ActionReview, s.review("resolve")))
	s.route("POST /webhooks/stripe", s.stripeWebhook)
	if cfg.Page != nil {
		for _, pattern := range cfg.PageRoutes {
			s.mux.Handle(pattern, cfg.Page)
		}
	}
	s.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	})
	return s
}

// route registers pattern ("METHOD /path") and, for the path with any
// other method, a JSON 405: the mux's own answers are plain text.
func (s *Server) route(pattern string, h http.HandlerFunc) {
	method, path, _ := strings.Cut(pattern, " ")
	s.mux.HandleFunc(pattern, h)
	s.mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
		allow := method
		if method == http.MethodGet {
			allow = "GET, HEAD"
		}
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, r.Method+" is not allowed on "+path+"; use "+method)
	})
}

// ServeHTTP implements http.Handler, counting each request by its route.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
	s.mux.ServeHTTP(sw, r)
	route := r.Pattern
	if route == "" || sw.code == http.StatusMethodNotAllowed && !strings.Contains(route, " ") {
		route = "other"
	}
	s.cfg.Metrics.httpReqs.WithLabelValues(route, fmt.Sprint(sw.code)).Inc()
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// NewHTTPServer returns an http.Server for h with every timeout set: slow
// clients cannot hold connections, and a customer check (bounded by
// checkTimeout) still fits in the write timeout.
func NewHTTPServer(addr string, h http.Handler, checkTimeout time.Duration, log *slog.Logger) *http.Server {
	if checkTimeout <= 0 {
		checkTimeout = DefaultCheckTimeout
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      checkTimeout + 30*time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.With("component", "http").Handler(), slog.LevelWarn),
	}
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"error":"encode response"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Store.Ping(ctx); err != nil {
		// The driver's text may name hosts: it goes to the log only.
		s.log.Warn("readiness: database does not answer", "error", err)
		writeError(w, http.StatusServiceUnavailable, "the database does not answer")
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
}

type tokenKey struct{}

// TokenFrom returns the token that authenticated the request (set by
// Require and RequireRole).
func TokenFrom(ctx context.Context) (reconcile.Token, bool) {
	t, ok := ctx.Value(tokenKey{}).(reconcile.Token)
	return t, ok
}

// actor is the name of the token that authenticated the request.
func actor(ctx context.Context) string {
	t, _ := TokenFrom(ctx)
	return t.Name
}

// Require lets a request through with a valid bearer token whose role
// allows action, and records the token for the handler (TokenFrom): a
// missing or wrong token is 401, a token whose role does not allow the
// action 403. Every /api/ route goes through it; new routes use it too.
func (s *Server) Require(action reconcile.Action, next http.HandlerFunc) http.HandlerFunc {
	return s.require(func(r reconcile.Role) bool { return r.Allows(action) }, string(action), next)
}

// RequireRole is Require for a route open to min and every role above it
// (support for the support desk's lookups, say).
func (s *Server) RequireRole(min reconcile.Role, next http.HandlerFunc) http.HandlerFunc {
	return s.require(func(r reconcile.Role) bool { return r.AtLeast(min) }, "role "+string(min), next)
}

func (s *Server) require(allowed func(reconcile.Role) bool, what string, next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="refundrecon"`)
		if s.tokens.Len() == 0 {
			writeError(w, http.StatusUnauthorized, "the API is disabled: no API_TOKENS are configured")
			return
		}
		scheme, value, ok := strings.Cut(r.Header.Get("Authorization"), " ")
		value = strings.TrimSpace(value)
		if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
			writeError(w, http.StatusUnauthorized, "missing bearer token: send Authorization: Bearer TOKEN")
			return
		}
		t, ok := s.tokens.Check(value)
		if !ok {
			s.log.Warn("api: invalid bearer token", "method", r.Method, "path", r.URL.Path, "remote", r.RemoteAddr)
			writeError(w, http.StatusUnauthorized, "invalid bearer token")
			return
		}
		w.Header().Del("WWW-Authenticate")
		if !allowed(t.Role) {
			s.log.Warn("api: token's role refused", "actor", t.Name, "role", t.Role, "method", r.Method, "path", r.URL.Path)
			writeError(w, http.StatusForbidden, fmt.Sprintf("the token %s has the role %s, which may not do this (%s)", t.Name, t.Role, what))
			return
		}
		next(w, r.WithContext(context.WithValue(r.Context(), tokenKey{}, t)))
	}
}

// validID accepts an id from a path: printable, no spaces, not too long.
func validID(id string) bool {
	if id == "" || len(id) > maxID {
		return false
	}
	for _, r := range id {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

func (s *Server) reconcileCustomer(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "the customer id is empty, too long or holds spaces or control characters")
		return
	}
	// Detached from the client: a run that started finishes or is recorded
	// as failed, whether or not the client waits for it.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.CheckTimeout)
	defer cancel()
	rep, err := s.cfg.Check(ctx, id)
	switch {
	case errors.Is(err, reconcile.ErrLocked):
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "another reconciliation is running; try again in a minute")
		return
	case errors.Is(err, context.Canceled) && rep.Run.ID == "":
		w.Header().Set("Retry-After", "30")
		writeError(w, http.StatusServiceUnavailable, "the server is shutting down; try again in a minute")
		return
	case err != nil && rep.Run.ID == "":
		s.log.Error("api: customer check did not start", "customer_id", id, "actor", actor(r.Context()), "error", err)
		writeError(w, http.StatusInternalServerError, "the check could not start: "+err.Error())
		return
	case err != nil:
		// The run is recorded as failed: answer its report, which says why.
		writeJSON(w, http.StatusBadGateway, rep)
		return
	}
	writeJSON(w, http.StatusOK, rep)
}

// noteBody is the body of a review or a held run's release or discard.
type noteBody struct {
	Note string `json:"note"`
}

// readNote reads an optional {"note": "…"} body into body; on a bad body it
// answers the request and returns false.
func readNote(w http.ResponseWriter, r *http.Request, body *noteBody) bool {
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxReviewBody))
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", maxReviewBody))
		return false
	}
	if len(strings.TrimSpace(string(raw))) > 0 {
		dec := json.NewDecoder(strings.NewReader(string(raw)))
		dec.DisallowUnknownFields()
		if err := dec.Decode(body); err != nil {
			writeError(w, http.StatusBadRequest, `the body must be JSON such as {"note": "…"}: `+err.Error())
			return false
		}
	}
	return true
}

// review acknowledges or resolves a discrepancy in the token's name.
func (s *Server) review(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		if !validID(id) {
			writeError(w, http.StatusBadRequest, "the discrepancy id is empty, too long or holds spaces or control characters")
			return
		}
		var body noteBody
		if !readNote(w, r, &body) {
			return
		}
		who := actor(r.Context())
		do := s.cfg.Store.Acknowledge
		if verb == "resolve" {
			do = s.cfg.Store.Resolve
		}
		d, err := do(r.Context(), id, who, body.Note)
		switch {
		case errors.Is(err, reconcile.ErrNotFound):
			writeError(w, http.StatusNotFound, "no discrepancy "+id)
		case errors.Is(err, reconcile.ErrConflict):
			writeError(w, http.StatusConflict, err.Error())
		case errors.Is(err, reconcile.ErrInvalid):
			writeError(w, http.StatusBadRequest, err.Error())
		case err != nil:
			s.log.Error("api: review", "verb", verb, "discrepancy_id", id, "actor", who, "error", err)
			writeError(w, http.StatusInternalServerError, "could not record the review")
		default:
			s.log.Info("discrepancy reviewed", "verb", verb, "discrepancy_id", id, "actor", who)
			writeJSON(w, http.StatusOK, d)
		}
	}
}

func (s *Server) stripeWebhook(w http.ResponseWriter, r *http.Request) {
	if s.cfg.Webhook == nil {
		writeError(w, http.StatusServiceUnavailable, "webhooks are not configured: set STRIPE_WEBHOOK_SECRET")
		return
	}
	// The signature covers the body exactly as sent: read it raw.
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxWebhookBody))
	if err != nil {
		s.cfg.Metrics.webhook("rejected")
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body is larger than %d bytes", MaxWebhookBody))
			return
		}
		writeError(w, http.StatusBadRequest, "could not read the body")
		return
	}
	ev, ok, err := s.cfg.Webhook(body, r.Header.Get("Stripe-Signature"))
	if err != nil {
		s.cfg.Metrics.webhook("rejected")
		s.log.Warn("webhook rejected", "error", err, "remote", r.RemoteAddr, "bytes", len(body))
		writeError(w, http.StatusBadRequest, "webhook refused: "+err.Error())
		return
	}
	if !ok {
		s.cfg.Metrics.webhook("ignored")
		s.log.Debug("webhook ignored", "event_id", ev.ID, "type", ev.Type)
		writeJSON(w, http.StatusOK, map[string]any{"received": true, "ignored": true})
		return
	}
	res := Dropped
	if s.cfg.Recheck != nil {
		res = s.cfg.Recheck(ev)
	}
	s.cfg.Metrics.webhook(res.String())
	switch res {
	case Dropped:
		// Stripe delivers the event again later; the nightly run covers
		// the customer whatever happens.
		s.log.Warn("webhook not queued: the re-check queue is full or serve is stopping", "event_id", ev.ID, "refund_id", ev.RefundID)
		w.Header().Set("Retry-After", "60")
		writeError(w, http.StatusServiceUnavailable, "the re-check queue is full; retry later")
		return
	case Duplicate:
		s.log.Info("webhook: event already received; no second re-check", "event_id", ev.ID, "refund_id", ev.RefundID)
		writeJSON(w, http.StatusOK, map[string]any{"received": true, "duplicate": true})
		return
	}
	s.log.Info("webhook queued a re-check", "event_id", ev.ID, "type", ev.Type, "refund_id", ev.RefundID,
		"charge_id", ev.ChargeID, "refund_status", ev.Status, "outcome", res.String())
	writeJSON(w, http.StatusOK, map[string]any{"received": true})
}
