package web

import (
	"errors"
	"net/http"

	"github.com/refundrecon/refundrecon/reconcile"
)

type caseData struct {
	Who, CSRF string
	// CanReview: the session's role may acknowledge and resolve.
	CanReview   bool
	Case        reconcile.Discrepancy
	Info        reconcile.KindInfo
	Row         row
	History     []reconcile.CaseEvent
	Flash       string
	StripeLinks []link
}

func (h *Handler) showCase(w http.ResponseWriter, r *http.Request, s Session) {
	id := r.PathValue("id")
	d, err := h.cfg.Store.Discrepancy(r.Context(), id)
	if errors.Is(err, reconcile.ErrNotFound) {
		http.Error(w, "no such case", http.StatusNotFound)
		return
	}
	if err != nil {
		h.fail(w, "read case", err)
		return
	}
	hist, err := h.cfg.Store.History(r.Context(), id)
	if err != nil {
		h.fail(w, "read history", err)
		return
	}
	h.render(w, http.StatusOK, "case.html", caseData{Who: s.Name, CSRF: s.CSRF, CanReview: s.Role.Allows(reconcile.ActionReview), Case: d, Info: d.Kind.Info(),
		Row: h.rowOf(d, h.now()), History: hist, Flash: r.URL.Query().Get("done"), StripeLinks: h.stripeLinks(d)})
}
