package server

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// LookupFunc answers a support look-up (lookup QUERY): the lookup JSON to
// send, and whether anything matched. An error means the look-up could
// not be answered; answer, when not nil, is still sent (a failed check).
type LookupFunc func(ctx context.Context, query string) (answer any, found bool, err error)

// maxLookupBody bounds a POST /api/lookup body.
const maxLookupBody = 16 << 10

// WithLookup adds POST /api/lookup, body {"query": "…"}: the lookup JSON,
// 404 with the same JSON when nothing matched. Role support or above
// (reconcile.ActionCheck); a viewer token gets 403.
func (s *Server) WithLookup(fn LookupFunc) *Server {
	s.route("POST /api/lookup", s.Require(reconcile.ActionCheck, s.lookup(fn)))
	return s
}

func (s *Server) lookup(fn LookupFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Query *string `json:"query"`
		}
		raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxLookupBody))
		if err != nil {
			writeError(w, http.StatusRequestEntityTooLarge, "the body is too large")
			return
		}
		if err := json.Unmarshal(raw, &body); err != nil || body.Query == nil {
			writeError(w, http.StatusBadRequest, `the body must be {"query": "…"}`)
			return
		}
		q := strings.TrimSpace(*body.Query)
		if q == "" || len(q) > 512 || strings.ContainsFunc(q, func(c rune) bool { return c < ' ' || c == 0x7f }) {
			writeError(w, http.StatusBadRequest, "the query is empty, too long or holds control characters")
			return
		}
		// Detached from the client, as a customer check: a run that started
		// finishes or is recorded as failed.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), s.cfg.CheckTimeout)
		defer cancel()
		answer, found, err := fn(ctx, q)
		switch {
		case errors.Is(err, reconcile.ErrLocked):
			w.Header().Set("Retry-After", "30")
			writeError(w, http.StatusServiceUnavailable, "another reconciliation is running; try again in a minute")
		case err != nil && answer == nil:
			s.log.Error("api: lookup failed", "actor", actor(r.Context()), "error", err)
			writeError(w, http.StatusInternalServerError, "the look-up failed: "+err.Error())
		case err != nil:
			writeJSON(w, http.StatusBadGateway, answer)
		case !found:
			writeJSON(w, http.StatusNotFound, answer)
		default:
			writeJSON(w, http.StatusOK, answer)
		}
	}
}
