package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/report"
	"github.com/refundrecon/refundrecon/store"
)

func cmdReport(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlags("report", getenv, &s, useDB)
	e.pagingFlags(&s) // the HTML report marks the cases that page (alerts.go)
	status := fs.String("status", "open", "open (open and acknowledged cases) or all")
	format := fs.String("format", "text", "text, csv, json or html")
	out := fs.String("out", "", "write to this file instead of standard output")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("report takes no arguments, got %q", pos[0])
	}
	filter := reconcile.CaseFilter{}
	scope := "all"
	switch *status {
	case "open":
		filter.Statuses = []reconcile.Status{reconcile.StatusOpen, reconcile.StatusAcknowledged}
		scope = "open and acknowledged"
	case "all":
	default:
		return usagef("--status %q is not open or all", *status)
	}
	var write func(io.Writer, report.Finance) error
	switch *format {
	case "text":
		write = report.WriteFinanceText
	case "csv":
		write = func(w io.Writer, f report.Finance) error { return report.WriteCSV(w, f.Discrepancies) }
	case "json":
		write = report.WriteFinanceJSON
	case "html":
		write = report.WriteFinanceHTML
	default:
		return usagef("--format %q is not text, csv, json or html", *format)
	}
	if err := s.check(false); err != nil {
		return err
	}
	paging, problems := s.Alert.paging()
	if len(problems) > 0 {
		return fmt.Errorf("%w: %s", reconcile.ErrConfig, strings.Join(problems, "; "))
	}
	db, err := store.Open(ctx, s.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	ds, err := db.Discrepancies(ctx, filter)
	if err != nil {
		return fmt.Errorf("read cases: %w", err)
	}
	var buf bytes.Buffer
	f := report.NewFinance(scope, ds, time.Now())
	f.Paging = paging
	if err := write(&buf, f); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if *out == "" {
		_, err := stdout.Write(buf.Bytes())
		return err
	}
	// Write beside the target and rename, so a reader never sees half a report.
	tmp, err := os.CreateTemp(filepath.Dir(*out), ".refundrecon-report-*")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(buf.Bytes()); err != nil {
		tmp.Close()
		return fmt.Errorf("write report: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if err := os.Rename(tmp.Name(), *out); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	fmt.Fprintf(stderr, "wrote %s (%d cases)\n", *out, len(ds))
	return nil
}
