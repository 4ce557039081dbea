package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"slices"
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
	// The HTML report marks the cases that page by ALERT_PAGE_KINDS, as
	// the alerts do: none, then only invalid ledger rows.
	marked := func(pageKinds string) string {
		t.Helper()
		var out bytes.Buffer
		envKinds := func(k string) string {
			if k == "ALERT_PAGE_KINDS" {
				return pageKinds
			}
			return env(k)
		}
		if err := run(context.Background(), []string{"report", "--format", "html"}, envKinds, &out, &errs); err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, line := range strings.Split(out.String(), "\n") {
			if _, rest, ok := strings.Cut(line, `<td class="kind page">`); ok {
				kind, _, _ := strings.Cut(rest, "<")
				if !slices.Contains(kinds, kind) {
					kinds = append(kinds, kind)
				}
			}
		}
		slices.Sort(kinds)
		return strings.Join(kinds, ",")
	}
	if got := marked(""); got != "duplicate_at_gateway,gateway_failed,missing_at_gateway" {
		t.Errorf("the default marks %q", got)
	}
	if got := marked("none"); got != "" {
		t.Errorf("ALERT_PAGE_KINDS=none marks %s", got)
	}
	if got := marked("invalid_ledger_row"); got != "invalid_ledger_row" {
		t.Errorf("ALERT_PAGE_KINDS=invalid_ledger_row marks %q", got)
	}
	if err := run(context.Background(), []string{"report", "--format", "html"}, func(k string) string {
		if k == "ALERT_PAGE_KINDS" {
			return "no_such_kind"
		}
		return env(k)
	}, &bytes.Buffer{}, &errs); exitCode(err, &bytes.Buffer{}) != exitUsage {
		t.Errorf("a bad ALERT_PAGE_KINDS: %v", err)
	}
	err = run(context.Background(), []string{"report", "--format", "pdf"}, env, &bytes.Buffer{}, &errs)
	if exitCode(err, &bytes.Buffer{}) != exitUsage {
		t.Fatalf("bad format: %v", err)
	}
}
