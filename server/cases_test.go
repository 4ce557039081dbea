package server

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

func TestListCasesPagesWithoutOverlap(t *testing.T) {
	h := newHarness(t, alice)
	h.store.ds = nil
	for i := range 7 {
		h.store.ds = append(h.store.ds, reconcile.Discrepancy{ID: fmt.Sprintf("dsc_%02d", i), Kind: reconcile.GatewayFailed,
			Status: reconcile.StatusOpen, GatewayRefundIDs: []string{}})
	}
	var seen []string
	cursor := ""
	pages := 0
	for {
		path := "/api/discrepancies?limit=3"
		if cursor != "" {
			path += "&cursor=" + cursor
		}
		rec := h.do("GET", path, alice.Value, "")
		if rec.Code != 200 {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		var body struct {
			Discrepancies []struct {
				ID string `json:"id"`
			} `json:"discrepancies"`
			NextCursor *string `json:"next_cursor"`
		}
		raw := rec.Body.String()
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || !strings.Contains(raw, `"next_cursor"`) {
			t.Fatalf("%s: %v %s", path, err, raw)
		}
		pages++
		for _, d := range body.Discrepancies {
			if slices.Contains(seen, d.ID) {
				t.Errorf("page %d repeats %s", pages, d.ID)
			}
			seen = append(seen, d.ID)
		}
		if body.NextCursor == nil {
			break
		}
		cursor = *body.NextCursor
	}
	if pages != 3 || len(seen) != 7 {
		t.Errorf("%d pages, %d cases; want 3 and 7", pages, len(seen))
	}
	last := h.store.filters[len(h.store.filters)-1]
	if last.Limit != 3 || last.Cursor != "at:6" {
		t.Errorf("the store was asked %+v", last)
	}
	for _, q := range []string{"?limit=0", "?limit=1001", "?limit=ten", "?cursor=nonsense"} {
		if rec := h.do("GET", "/api/discrepancies"+q, alice.Value, ""); rec.Code != 400 {
			t.Errorf("%s: %d, want 400", q, rec.Code)
		}
	}
}

func TestListCasesSearch(t *testing.T) {
	h := newHarness(t, alice)
	for q, want := range map[string]string{"re_4": "dsc_4", "lr_1": "dsc_1", "cus_2": "dsc_2"} {
		rec := h.do("GET", "/api/discrepancies?q="+q, alice.Value, "")
		var body struct {
			Discrepancies []struct {
				ID string `json:"id"`
			} `json:"discrepancies"`
		}
		_ = json.Unmarshal(rec.Body.Bytes(), &body)
		if rec.Code != 200 || len(body.Discrepancies) != 1 || body.Discrepancies[0].ID != want {
			t.Errorf("q=%s: %d %s", q, rec.Code, rec.Body)
		}
	}
	if f := h.store.filters[len(h.store.filters)-1]; f.Query == "" || f.Limit != 0 {
		t.Errorf("filter %+v", f)
	}
}

func TestShowCaseWithHistory(t *testing.T) {
	h := newHarness(t, alice)
	at := time.Date(2026, 11, 2, 3, 4, 5, 0, time.UTC)
	run := "run_1"
	open := reconcile.StatusOpen
	h.store.history = map[string][]reconcile.CaseEvent{"dsc_2": {
		{At: at, By: "refundrecon", Action: "opened", To: reconcile.StatusOpen, RunID: &run},
		{At: at.Add(time.Hour), By: "ana", Action: "acknowledged", From: &open, To: reconcile.StatusAcknowledged, Note: "calling"},
	}}
	rec := h.do("GET", "/api/discrepancies/dsc_2", alice.Value, "")
	if rec.Code != 200 {
		t.Fatalf("%d %s", rec.Code, rec.Body)
	}
	var body struct {
		ID      string           `json:"id"`
		Status  string           `json:"status"`
		Kind    string           `json:"kind"`
		History []map[string]any `json:"history"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatal(err)
	}
	if body.ID != "dsc_2" || body.Kind != "missing_in_ledger" || len(body.History) != 2 {
		t.Fatalf("%s", rec.Body)
	}
	for _, f := range []string{"at", "by", "action", "from", "to", "note", "run_id"} {
		if _, ok := body.History[0][f]; !ok {
			t.Errorf("history lacks %s: %s", f, rec.Body)
		}
	}
	if body.History[0]["from"] != nil || body.History[0]["run_id"] != "run_1" || body.History[1]["by"] != "ana" ||
		body.History[1]["from"] != "open" || body.History[1]["at"] != "2026-11-02T04:04:05Z" {
		t.Errorf("history %v", body.History)
	}
	if rec := h.do("GET", "/api/discrepancies/dsc_1", alice.Value, ""); rec.Code != 200 || !strings.Contains(rec.Body.String(), `"history":[]`) {
		t.Errorf("a case without history: %d %s", rec.Code, rec.Body)
	}
	if rec := h.do("GET", "/api/discrepancies/dsc_nope", alice.Value, ""); rec.Code != 404 {
		t.Errorf("unknown case: %d", rec.Code)
	}
	if rec := h.do("GET", "/api/discrepancies/dsc_2", "", ""); rec.Code != 401 {
		t.Errorf("no token: %d", rec.Code)
	}
}

func TestListRuns(t *testing.T) {
	h := newHarness(t, alice)
	at := time.Date(2026, 11, 2, 3, 0, 0, 0, time.UTC)
	h.store.runs = reconcile.RunList{
		{ID: "run_2", Status: reconcile.RunFailed, StartedAt: at.Add(time.Hour), FinishedAt: at.Add(time.Hour + time.Second), Error: "stripe said no"},
		{ID: "run_1", Status: reconcile.RunSucceeded, StartedAt: at, FinishedAt: at.Add(2 * time.Second),
			Scope: reconcile.Scope{Since: at.Add(-90 * 24 * time.Hour), Until: at}, Counts: reconcile.Counts{LedgerRefunds: 5, Discrepancies: 2}},
	}
	rec := h.do("GET", "/api/runs?limit=5", alice.Value, "")
	var body struct {
		Runs []struct {
			ID         string         `json:"id"`
			Status     string         `json:"status"`
			DurationMS int64          `json:"duration_ms"`
			Counts     map[string]int `json:"counts"`
			Error      *string        `json:"error"`
			Scope      map[string]any `json:"scope"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || rec.Code != 200 || len(body.Runs) != 2 {
		t.Fatalf("%d %s %v", rec.Code, rec.Body, err)
	}
	r := body.Runs[1]
	if body.Runs[0].ID != "run_2" || *body.Runs[0].Error != "stripe said no" || r.Status != "succeeded" || r.DurationMS != 2000 ||
		r.Counts["ledger_refunds"] != 5 || r.Counts["discrepancies"] != 2 || r.Error != nil || r.Scope["until"] != "2026-11-02T03:00:00Z" {
		t.Errorf("runs %s", rec.Body)
	}
	if rec := h.do("GET", "/api/runs?limit=1", alice.Value, ""); !strings.Contains(rec.Body.String(), "run_2") || strings.Contains(rec.Body.String(), "run_1") {
		t.Errorf("limit 1: %s", rec.Body)
	}
	if rec := h.do("GET", "/api/runs?limit=-1", alice.Value, ""); rec.Code != 400 {
		t.Errorf("bad limit: %d", rec.Code)
	}
}
