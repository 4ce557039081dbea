package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/reconcile"
)

// heldStore is a memStore that keeps one held run, run_1, and records who
// released or discarded it.
type heldStore struct {
	memStore
	ended *reconcile.Hold
	calls []string
}

func (h *heldStore) end(id, actor, note string, state reconcile.HoldState) (reconcile.HoldEnded, error) {
	if id != "run_1" {
		return reconcile.HoldEnded{}, fmt.Errorf("run %s: %w", id, reconcile.ErrNotFound)
	}
	out := reconcile.HoldEnded{Run: reconcile.HeldRun{RunID: id, NewDiscrepancies: 25, RefundsInScope: 100}}
	if h.ended != nil {
		out.Already = h.ended
		return out, nil
	}
	h.calls = append(h.calls, string(state)+" by "+actor+" "+note)
	h.ended = &reconcile.Hold{State: state, By: actor}
	out.Alerts = 54
	if state == reconcile.HoldDiscarded {
		out.Resolved = []string{"dsc_1"}
	}
	return out, nil
}

func (h *heldStore) Release(_ context.Context, id, actor string) (reconcile.HoldEnded, error) {
	return h.end(id, actor, "", reconcile.HoldReleased)
}

func (h *heldStore) Discard(_ context.Context, id, actor, note string) (reconcile.HoldEnded, error) {
	if strings.TrimSpace(note) == "" {
		return reconcile.HoldEnded{}, fmt.Errorf("a note is required: %w", reconcile.ErrInvalid)
	}
	return h.end(id, actor, note, reconcile.HoldDiscarded)
}

// TestReleaseAndDiscardNeedAdmin: every role below admin gets 403 and
// changes nothing; admin releases (the token's name recorded), a second
// release answers already, an unknown run 404.
func TestReleaseAndDiscardNeedAdmin(t *testing.T) {
	var toks []reconcile.Token
	for i, r := range reconcile.Roles {
		toks = append(toks, reconcile.Token{Name: "tok_" + string(r), Value: fmt.Sprintf("tok_%d_0123456789abcdef", i), Role: r})
	}
	st := &heldStore{}
	s := New(Config{Store: st, Tokens: toks})
	post := func(tok reconcile.Token, path, body string) (int, string) {
		req := httptest.NewRequest("POST", path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+tok.Value)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		return rec.Code, rec.Body.String()
	}
	admin := toks[len(toks)-1]
	for _, tok := range toks[:len(toks)-1] {
		for _, verb := range []string{"release", "discard"} {
			if code, body := post(tok, "/api/runs/run_1/"+verb, `{"note": "x"}`); code != 403 {
				t.Errorf("%s %s: %d %s, want 403", tok.Role, verb, code, body)
			}
		}
	}
	if len(st.calls) != 0 {
		t.Fatalf("a role below admin ended the hold: %v", st.calls)
	}
	if code, _ := post(admin, "/api/runs/run_1/discard", `{}`); code != 400 {
		t.Errorf("discard without a note: %d, want 400", code)
	}
	if code, _ := post(admin, "/api/runs/run_9/release", ``); code != 404 {
		t.Errorf("unknown run: %d, want 404", code)
	}
	code, body := post(admin, "/api/runs/run_1/release", ``)
	var got holdEndedJSON
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil {
		t.Fatalf("release: %d %s", code, body)
	}
	if got.State != "released" || got.Alerts != 54 || got.Already || got.By == nil || *got.By != admin.Name {
		t.Errorf("release answered %s", body)
	}
	code, body = post(admin, "/api/runs/run_1/release", ``)
	if err := json.Unmarshal([]byte(body), &got); code != 200 || err != nil || !got.Already || got.Alerts != 0 {
		t.Errorf("second release: %d %s", code, body)
	}
	if len(st.calls) != 1 || st.calls[0] != "released by "+admin.Name+" " {
		t.Errorf("calls = %q", st.calls)
	}
}
