package web

import (
	"context"
	"net/http"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// CheckResult is a support look-up as the page shows it: the verdict as
// `lookup` prints it, and the cases it names.
type CheckResult struct {
	Text  string
	Found bool
	Cases []string
}

// CheckFunc runs a support look-up (lookup QUERY).
type CheckFunc func(ctx context.Context, query string) (CheckResult, error)

// CheckRoutes are the routes WithCheck adds.
var CheckRoutes = []string{"GET /check"}

// WithCheck adds GET /check, the support page: one box for whatever the
// customer gave (?q=), and the verdict as the CLI prints it, with links to
// the cases. Role support or above (reconcile.ActionCheck).
func (h *Handler) WithCheck(fn CheckFunc) *Handler {
	h.mux.HandleFunc("GET /check", h.Require(reconcile.ActionCheck, h.check(fn)))
	return h
}

type checkData struct {
	Who, CSRF string
	Query     string
	Asked     bool
	Result    CheckResult
	Error     string
}

func (h *Handler) check(fn CheckFunc) func(http.ResponseWriter, *http.Request, Session) {
	return func(w http.ResponseWriter, r *http.Request, s Session) {
		d := checkData{Who: s.Name, CSRF: s.CSRF, Query: r.URL.Query().Get("q")}
		q := strings.TrimSpace(d.Query)
		code := http.StatusOK
		if q != "" {
			d.Asked = true
			switch {
			case len(q) > 512 || strings.ContainsFunc(q, func(c rune) bool { return c < ' ' || c == 0x7f }):
				code, d.Error = http.StatusBadRequest, "That is not something a customer could have given: too long, or it holds control characters."
			default:
				res, err := fn(r.Context(), q)
				if err != nil {
					h.log.Error("page: lookup failed", "actor", s.Name, "error", err)
					code, d.Error = http.StatusBadGateway, "The check failed: "+err.Error()
				}
				d.Result = res
				if err == nil && !res.Found {
					code = http.StatusNotFound
				}
			}
		}
		h.render(w, code, "check.html", d)
	}
}
