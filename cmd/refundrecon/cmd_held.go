package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// Held runs (ALERT_HOLD_NEW, reconcile/hold.go): `runs` lists recent runs,
// held ones included; `release RUN_ID --by NAME` sends what a held run
// held; `discard RUN_ID --by NAME --note TEXT` resolves the cases it alone
// opened, without alerts.

// share defines a flag holding a share from 0 to 1 that falls back on env;
// anything else is a configuration error (exit 2).
func (e *envFlags) share(p *float64, name, env string, def float64, help string) {
	e.note(name, env, strconv.FormatFloat(def, 'g', -1, 64))
	if v := e.getenv(env); v != "" {
		f, err := parseShare(v)
		if err != nil {
			e.errs = append(e.errs, fmt.Sprintf("%s=%q %s", env, v, err))
		} else {
			def = f
		}
	}
	*p = def
	e.fs.Func(name, help, func(v string) error {
		f, err := parseShare(v)
		if err != nil {
			return fmt.Errorf("%q %s", v, err)
		}
		*p = f
		return nil
	})
}

func parseShare(v string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
	if err != nil || math.IsNaN(f) || f < 0 || f > 1 {
		return 0, errors.New("is not a share from 0 to 1 (0.05 is 5%)")
	}
	return f, nil
}

func cmdRuns(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlags("runs", getenv, &s, useDB|useLog)
	limit := fs.Int("limit", 20, "how many runs, newest first (1 to 1000)")
	format := fs.String("format", "text", "text or json")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		return usagef("runs takes no arguments, got %q", pos[0])
	}
	if *limit < 1 || *limit > 1000 {
		return usagef("--limit %d is not from 1 to 1000", *limit)
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	if err := s.check(false); err != nil {
		return err
	}
	db, err := openStore(ctx, &s)
	if err != nil {
		return err
	}
	defer db.Close()
	runs, err := db.Runs(ctx, *limit)
	if err != nil {
		return err
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(runs); err != nil {
			return fmt.Errorf("write runs: %w", err)
		}
		return nil
	}
	return writeRunsText(stdout, runs)
}

// writeRunsText prints one line a run, then what to do about a held one.
func writeRunsText(w io.Writer, runs reconcile.RunList) error {
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "no runs yet")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTATUS\tSCOPE\tSTARTED\tDURATION\tLEDGER\tGATEWAY\tMATCHED\tDISCREPANCIES\tNOTE")
	var held []reconcile.Run
	for _, r := range runs {
		scope := "all customers"
		if r.Scope.CustomerID != "" {
			scope = r.Scope.CustomerID
		}
		if !r.Scope.Since.IsZero() {
			scope += " " + r.Scope.Since.UTC().Format("2006-01-02") + ".." + r.Scope.Until.UTC().Format("2006-01-02")
		}
		dur := "-"
		if !r.FinishedAt.IsZero() {
			dur = r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond).String()
		}
		note := r.Error
		if h := r.Held; h != nil {
			switch h.State {
			case reconcile.HoldWaiting:
				note = fmt.Sprintf("held: %d new of %d refunds wait", h.NewDiscrepancies, h.RefundsInScope)
				held = append(held, r)
			default:
				note = fmt.Sprintf("was held: %s by %s %s", h.State, h.By, h.At.UTC().Format(time.RFC3339))
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", r.ID, r.Status, scope,
			r.StartedAt.UTC().Format(time.RFC3339), dur, r.Counts.LedgerRefunds, r.Counts.GatewayRefunds,
			r.Counts.Matched, r.Counts.Discrepancies, oneLine(note))
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write runs: %w", err)
	}
	for _, r := range held {
		h := reconcile.HeldRun{RunID: r.ID, NewDiscrepancies: r.Held.NewDiscrepancies, RefundsInScope: r.Held.RefundsInScope}
		fmt.Fprintf(w, "\n%s\n", h.HeldMessage())
	}
	return nil
}

func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// openStore opens and migrates the reconciler's own database.
func openStore(ctx context.Context, s *settings) (*store.DB, error) {
	db, err := store.Open(ctx, s.DatabaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	if err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("migrate database: %w", err)
	}
	return db, nil
}

// cmdHold is `release RUN_ID --by NAME` and `discard RUN_ID --by NAME
// --note TEXT`. Both end a held run's hold, kept in the audit trail; a
// release then delivers the alerts it freed (and anything else pending).
func cmdHold(cmd string) runFunc {
	return func(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
		var s settings
		fs, e := newFlags(cmd, getenv, &s, useDB|useLog|useAlerts)
		by := fs.String("by", "", "who does it (required); recorded in the audit trail")
		noteHelp := "why, recorded in the history of every case it resolves (required)"
		var note *string
		if cmd == "discard" {
			note = fs.String("note", "", noteHelp)
		}
		pos, err := e.parse(args)
		if err != nil {
			return err
		}
		if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
			return usagef("%s takes one run id (run_…; see 'refundrecon runs')", cmd)
		}
		id := strings.TrimSpace(pos[0])
		if strings.TrimSpace(*by) == "" {
			return usagef("%s needs --by NAME: who does it goes into the audit trail", cmd)
		}
		if cmd == "discard" && strings.TrimSpace(*note) == "" {
			return usagef("discard needs --note TEXT: why the cases are dropped goes into their history")
		}
		if err := s.check(false); err != nil {
			return err
		}
		log := newLogger(&s, stderr)
		dispatcher, channels, err := s.alerting(log)
		if err != nil {
			return err
		}
		db, err := openStore(ctx, &s)
		if err != nil {
			return err
		}
		defer db.Close()
		db.SetAlertChannels(channels)
		dispatcher.Outbox = db

		var out reconcile.HoldEnded
		if cmd == "discard" {
			out, err = db.Discard(ctx, id, *by, *note)
		} else {
			out, err = db.Release(ctx, id, *by)
		}
		if errors.Is(err, reconcile.ErrNotFound) {
			return fmt.Errorf("%s: no run has this id (list them with 'refundrecon runs')", id)
		}
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, holdEndedText(cmd, out, strings.TrimSpace(*by)))
		if out.Already == nil && len(channels) > 0 {
			if _, err := dispatcher.Drain(ctx, s.Alert.Drain); err != nil {
				// Released and due: the next run or serve delivers them.
				log.Error("deliver alerts", "error", err)
			}
		}
		return nil
	}
}

// holdEndedText is the one line release and discard print.
func holdEndedText(cmd string, out reconcile.HoldEnded, by string) string {
	id := out.Run.RunID
	if a := out.Already; a != nil {
		return fmt.Sprintf("run %s was already %s by %s at %s: nothing to %s, no alert sent again", id, a.State, a.By,
			a.At.UTC().Format(time.RFC3339), cmd)
	}
	if cmd == "discard" {
		return fmt.Sprintf("discarded run %s by %s: %d discrepancies it opened resolved without alerts (%d held alerts dropped)",
			id, by, len(out.Resolved), out.Alerts)
	}
	return fmt.Sprintf("released run %s by %s: %d held alerts sent to the outbox (%d new discrepancies)", id, by, out.Alerts,
		out.Run.NewDiscrepancies)
}

// heldNotice is what a run or dry run says, on stderr, when it is held (or
// would be).
func heldNotice(w io.Writer, rep reconcile.Report) {
	h := rep.Run.Held
	if h == nil || h.State != reconcile.HoldWaiting {
		return
	}
	hr := reconcile.HeldRun{RunID: rep.Run.ID, NewDiscrepancies: h.NewDiscrepancies, RefundsInScope: h.RefundsInScope}
	if rep.Run.DryRun {
		fmt.Fprintf(w, "refundrecon: dry run: a real run would be held: %d new discrepancies over %d refunds in scope exceed ALERT_HOLD_NEW; their alerts would wait for 'refundrecon release'\n",
			h.NewDiscrepancies, h.RefundsInScope)
		return
	}
	fmt.Fprintf(w, "refundrecon: %s\n", hr.HeldMessage())
}
