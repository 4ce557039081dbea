package server

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// The case list and runs of the API: GET /api/discrepancies (one page,
// with next_cursor), GET /api/discrepancies/{id} (with its history) and GET
// /api/runs.

// maxRuns bounds GET /api/runs.
const maxRuns = 1000

// parseCaseFilter reads the list's query string: status (default open and
// acknowledged; "all"; comma-separated or repeated), kind (likewise),
// customer_id, q, limit (default 100, at most 1000) and cursor.
func parseCaseFilter(q url.Values) (reconcile.CaseFilter, error) {
	f := reconcile.CaseFilter{CustomerID: q.Get("customer_id"), Query: strings.TrimSpace(q.Get("q")), Cursor: q.Get("cursor")}
	statuses := split(q["status"])
	switch {
	case len(statuses) == 0:
		f.Statuses = []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged}
	case len(statuses) == 1 && statuses[0] == "all":
	default:
		for _, st := range statuses {
			switch reconcile.Status(st) {
			case reconcile.StatusOpen, reconcile.StatusAcknowledged, reconcile.StatusResolved:
				f.Statuses = append(f.Statuses, reconcile.Status(st))
			default:
				return f, fmt.Errorf("status %q is not open, acknowledged, resolved or all", st)
			}
		}
	}
	for _, k := range split(q["kind"]) {
		if !reconcile.Kind(k).Valid() {
			return f, fmt.Errorf("kind %q is not a discrepancy kind", k)
		}
		f.Kinds = append(f.Kinds, reconcile.Kind(k))
	}
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > reconcile.MaxCaseLimit {
			return f, fmt.Errorf("limit %q is not a number from 1 to %d", v, reconcile.MaxCaseLimit)
		}
		f.Limit = n
	}
	return f, nil
}

// split reads repeated and comma-separated values.
func split(vs []string) []string {
	var out []string
	for _, v := range vs {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func (s *Server) listCases(w http.ResponseWriter, r *http.Request) {
	f, err := parseCaseFilter(r.URL.Query())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.cfg.Store.Cases(r.Context(), f)
	switch {
	case errors.Is(err, reconcile.ErrInvalid):
		writeError(w, http.StatusBadRequest, err.Error())
	case err != nil:
		s.log.Error("api: list discrepancies", "error", err)
		writeError(w, http.StatusInternalServerError, "could not read the discrepancies")
	default:
		writeJSON(w, http.StatusOK, page)
	}
}

func (s *Server) showCase(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if !validID(id) {
		writeError(w, http.StatusBadRequest, "the discrepancy id is empty, too long or holds spaces or control characters")
		return
	}
	d, err := s.cfg.Store.Discrepancy(r.Context(), id)
	if errors.Is(err, reconcile.ErrNotFound) {
		writeError(w, http.StatusNotFound, "no discrepancy "+id)
		return
	}
	var hist []reconcile.CaseEvent
	if err == nil {
		hist, err = s.cfg.Store.History(r.Context(), id)
	}
	if err != nil {
		s.log.Error("api: read discrepancy", "discrepancy_id", id, "error", err)
		writeError(w, http.StatusInternalServerError, "could not read the discrepancy")
		return
	}
	writeJSON(w, http.StatusOK, reconcile.CaseWithHistory{Case: d, History: hist})
}

func (s *Server) listRuns(w http.ResponseWriter, r *http.Request) {
	limit := 20
	if v := r.URL.Query().Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxRuns {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("limit %q is not a number from 1 to %d", v, maxRuns))
			return
		}
		limit = n
	}
	runs, err := s.cfg.Store.Runs(r.Context(), limit)
	if err != nil {
		s.log.Error("api: list runs", "error", err)
		writeError(w, http.StatusInternalServerError, "could not read the runs")
		return
	}
	writeJSON(w, http.StatusOK, runs)
}
