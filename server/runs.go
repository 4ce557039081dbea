package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/refundrecon/refundrecon/reconcile"
)

// The held runs of the API (reconcile/hold.go): POST /api/runs/{id}/release
// and POST /api/runs/{id}/discard, role admin. serve's alert loop delivers
// what a release frees.

// HeldRuns ends the hold of held runs; the store implements it. The Store
// of Config must implement it for the routes to answer (else 501).
type HeldRuns interface {
	// Release and Discard end run id's hold, actor being the API token's
	// name. Errors wrap reconcile.ErrNotFound, reconcile.ErrConflict (a run
	// never held) or reconcile.ErrInvalid (a discard without a note).
	Release(ctx context.Context, id, actor string) (reconcile.HoldEnded, error)
	Discard(ctx context.Context, id, actor, note string) (reconcile.HoldEnded, error)
}

// holdEndedJSON is the answer of a release or discard.
type holdEndedJSON struct {
	RunID    string   `json:"run_id"`
	State    string   `json:"state"`
	Alerts   int      `json:"alerts"`
	Resolved []string `json:"resolved"`
	// Already is true when the hold had ended before: nothing was done.
	Already bool    `json:"already"`
	By      *string `json:"by"`
}

// endHold is the handler of release ("release") and discard ("discard").
func (s *Server) endHold(verb string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		held, ok := s.cfg.Store.(HeldRuns)
		if !ok {
			writeError(w, http.StatusNotImplemented, "this store keeps no held runs")
			return
		}
		id := r.PathValue("id")
		if !validID(id) {
			writeError(w, http.StatusBadRequest, "the run id is empty, too long or holds spaces or control characters")
			return
		}
		var body noteBody
		if !readNote(w, r, &body) {
			return
		}
		who := actor(r.Context())
		var out reconcile.HoldEnded
		var err error
		if verb == "discard" {
			out, err = held.Discard(r.Context(), id, who, body.Note)
		} else {
			out, err = held.Release(r.Context(), id, who)
		}
		switch {
		case errors.Is(err, reconcile.ErrNotFound):
			writeError(w, http.StatusNotFound, "no run "+id)
		case errors.Is(err, reconcile.ErrConflict):
			writeError(w, http.StatusConflict, err.Error())
		case errors.Is(err, reconcile.ErrInvalid):
			writeError(w, http.StatusBadRequest, err.Error())
		case err != nil:
			s.log.Error("api: end hold", "verb", verb, "run_id", id, "actor", who, "error", err)
			writeError(w, http.StatusInternalServerError, "could not "+verb+" the run")
		default:
			j := holdEndedJSON{RunID: id, Alerts: out.Alerts, Resolved: out.Resolved}
			if j.Resolved == nil {
				j.Resolved = []string{}
			}
			if a := out.Already; a != nil {
				j.State, j.Already, j.By = string(a.State), true, &a.By
			} else {
				j.State = string(reconcile.HoldReleased)
				if verb == "discard" {
					j.State = string(reconcile.HoldDiscarded)
				}
				j.By = &who
				s.log.Info("held run ended", "verb", verb, "run_id", id, "actor", who, "alerts", out.Alerts,
					"resolved", len(out.Resolved))
			}
			writeJSON(w, http.StatusOK, j)
		}
	}
}
