package web

import (
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
)

// maxBulk bounds the cases one bulk acknowledgement takes: a page's worth.
const maxBulk = 1000

// bulkAck acknowledges every selected case (form values "id") with one
// note, in the signed-in token's name. A case already acknowledged or
// resolved is skipped; the list says how many were acknowledged.
func (h *Handler) bulkAck(w http.ResponseWriter, r *http.Request, s Session) {
	ids := r.PostForm["id"]
	if len(ids) == 0 || len(ids) > maxBulk {
		http.Error(w, "select between 1 and "+strconv.Itoa(maxBulk)+" cases", http.StatusBadRequest)
		return
	}
	note := strings.TrimSpace(r.PostFormValue("note"))
	done, skipped := 0, 0
	for _, id := range ids {
		_, err := h.cfg.Store.Acknowledge(r.Context(), id, s.Name, note)
		switch {
		case err == nil:
			done++
		case errors.Is(err, reconcile.ErrNotFound), errors.Is(err, reconcile.ErrConflict):
			skipped++
		default:
			h.fail(w, "bulk acknowledge", err)
			return
		}
	}
	h.log.Info("cases acknowledged in bulk", "acknowledged", done, "skipped", skipped, "actor", s.Name)
	back, err := url.Parse(safeNext(r.PostFormValue("back")))
	if err != nil || back.Path != "/" {
		back = &url.URL{Path: "/"}
	}
	v := back.Query()
	v.Del("cursor")
	v.Set("acked", strconv.Itoa(done)+" acknowledged"+map[bool]string{true: ", " + strconv.Itoa(skipped) + " skipped (already acknowledged or resolved)", false: ""}[skipped > 0])
	back.RawQuery = v.Encode()
	http.Redirect(w, r, back.String(), http.StatusSeeOther)
}
