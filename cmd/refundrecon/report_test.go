package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Finance reads the demo's cases in every format.
func TestReportFormats(t *testing.T) {
	t.Chdir(t.TempDir())
	if err := run(context.Background(), []string{"demo"}, noEnv, &bytes.Buffer{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	env := func(k string) string {
		if k == "DATABASE_URL" {
			return "sqlite:refundrecon-demo.db"
		}
		return ""
	}
	var text bytes.Buffer
	if err := run(context.Background(), []string{"report"}, env, &text, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Money at risk by currency", "EUR", "JPY", "USD", "Ageing", "Cases, worst first"} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q", s)
		}
	}
	var js bytes.Buffer
	if err := run(context.Background(), []string{"report", "--format", "json", "--status", "all"}, env, &js, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Summary struct {
			Cases int `json:"cases"`
		} `json:"summary"`
		Discrepancies []map[string]any `json:"discrepancies"`
	}
	if err := json.Unmarshal(js.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]bool{}
	for _, d := range rep.Discrepancies {
		kinds[d["kind"].(string)] = true
	}
	if rep.Summary.Cases != len(rep.Discrepancies) || len(kinds) != len(reconcile.Kinds) {
		t.Fatalf("json report: %d cases, %d listed, %d kinds", rep.Summary.Cases, len(rep.Discrepancies), len(kinds))
	}
	var errs bytes.Buffer
	if err := run(context.Background(), []string{"report", "--format", "html", "--out", "report.html"}, env, &bytes.Buffer{}, &errs); err != nil {
		t.Fatal(err)
	}
	page, err := os.ReadFile("report.html")
	if err != nil || !bytes.Contains(page, []byte("<!DOCTYPE html>")) || !bytes.Contains(page, []byte("gateway_failed")) {
		t.Fatalf("html report: %v\n%.300s", err, page)
	}
	err = run(context.Background(), []string{"report", "--format", "pdf"}, env, &bytes.Buffer{}, &errs)
	if exitCode(err, &bytes.Buffer{}) != exitUsage {
		t.Fatalf("bad format: %v", err)
	}
}
