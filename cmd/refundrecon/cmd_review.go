package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

// cmdReview is `ack ID --by NAME [--note TEXT]` and `resolve ID --by NAME
// --note TEXT`: a person's step in a case's review, kept in the audit trail.
// A resolve enqueues the case's "resolved" alert in the same transaction
// and delivers it, with anything else pending, before returning.
func cmdReview(ctx context.Context, cmd string, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlags(cmd, getenv, &s, useDB|useLog|useAlerts)
	by := fs.String("by", "", "who does it (required); recorded in the audit trail")
	noteHelp := "why, recorded in the audit trail"
	if cmd == "resolve" {
		noteHelp += " (required)"
	}
	note := fs.String("note", "", noteHelp)
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usagef("%s takes one discrepancy id (dsc_…)", cmd)
	}
	id := strings.TrimSpace(pos[0])
	if strings.TrimSpace(*by) == "" {
		return usagef("%s needs --by NAME: who does it goes into the audit trail", cmd)
	}
	if cmd == "resolve" && strings.TrimSpace(*note) == "" {
		return usagef("resolve needs --note TEXT: why the case is closed goes into the audit trail")
	}
	if err := s.check(false); err != nil {
		return err
	}
	log := newLogger(&s, stderr)
	dispatcher, channels, err := s.alerting(log)
	if err != nil {
		return err
	}
	db, err := store.Open(ctx, s.DatabaseURL)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer db.Close()
	if err := db.Migrate(ctx); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}
	db.SetAlertChannels(channels)
	dispatcher.Outbox = db

	var d reconcile.Discrepancy
	verb := "acknowledged"
	if cmd == "resolve" {
		verb = "resolved"
		d, err = db.Resolve(ctx, id, *by, *note)
	} else {
		d, err = db.Acknowledge(ctx, id, *by, *note)
	}
	if err != nil {
		if errors.Is(err, reconcile.ErrNotFound) {
			return fmt.Errorf("%s: no discrepancy has this id (list them with 'refundrecon report --status all')", id)
		}
		return err
	}
	fmt.Fprintf(stdout, "%s %s (%s, %s) by %s\n", verb, d.ID, d.Kind, orDash(d.CustomerID), strings.TrimSpace(*by))

	if cmd == "resolve" && len(channels) > 0 {
		if _, err := dispatcher.Drain(ctx, s.Alert.Drain); err != nil {
			// The case is resolved and its alert enqueued; the next run
			// or serve delivers it.
			log.Error("deliver alerts", "error", err)
		}
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
