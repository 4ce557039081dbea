package web

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Held runs on the page (reconcile/hold.go): a banner above the cases for
// every run that waits, with release and discard forms for role admin.

// HeldRuns ends the hold of held runs; the store implements it. Without it
// (a Store that does not), the banner shows no forms and the routes 501.
type HeldRuns interface {
	Release(ctx context.Context, id, actor string) (reconcile.HoldEnded, error)
	Discard(ctx context.Context, id, actor, note string) (reconcile.HoldEnded, error)
}

// HeldRoutes are the routes of the banner's forms.
var HeldRoutes = []string{"POST /runs/{id}/release", "POST /runs/{id}/discard"}

// heldBanner is one held run on the page.
type heldBanner struct {
	RunID   string
	Message string
}

// heldBanners are the runs of runs that wait.
func heldBanners(runs reconcile.RunList) []heldBanner {
	var out []heldBanner
	for _, r := range runs {
		if r.Status != reconcile.RunHeld || r.Held == nil {
			continue
		}
		h := reconcile.HeldRun{RunID: r.ID, NewDiscrepancies: r.Held.NewDiscrepancies, RefundsInScope: r.Held.RefundsInScope}
		out = append(out, heldBanner{RunID: r.ID, Message: h.HeldMessage()})
	}
	return out
}

// endHold handles the banner's release ("release") and discard forms.
func (h *Handler) endHold(verb string) func(http.ResponseWriter, *http.Request, Session) {
	return func(w http.ResponseWriter, r *http.Request, s Session) {
		held, ok := h.cfg.Store.(HeldRuns)
		if !ok {
			http.Error(w, "this store keeps no held runs", http.StatusNotImplemented)
			return
		}
		id := r.PathValue("id")
		var out reconcile.HoldEnded
		var err error
		if verb == "discard" {
			out, err = held.Discard(r.Context(), id, s.Name, strings.TrimSpace(r.PostFormValue("note")))
		} else {
			out, err = held.Release(r.Context(), id, s.Name)
		}
		switch {
		case errors.Is(err, reconcile.ErrNotFound):
			http.Error(w, "no such run", http.StatusNotFound)
			return
		case errors.Is(err, reconcile.ErrConflict), errors.Is(err, reconcile.ErrInvalid):
			http.Error(w, err.Error(), http.StatusConflict)
			return
		case err != nil:
			h.fail(w, verb, err)
			return
		}
		var flash string
		switch {
		case out.Already != nil:
			flash = "Run " + id + " was already " + string(out.Already.State) + " by " + out.Already.By
		case verb == "discard":
			flash = "Run " + id + " discarded: " + strconv.Itoa(len(out.Resolved)) + " cases resolved without alerts"
		default:
			flash = "Run " + id + " released: " + strconv.Itoa(out.Alerts) + " alerts on their way"
		}
		h.log.Info("held run ended", "run_id", id, "action", verb, "actor", s.Name)
		http.Redirect(w, r, "/?"+url.Values{"acked": {flash}}.Encode(), http.StatusSeeOther)
	}
}
