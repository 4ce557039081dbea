package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/report"
	"github.com/refundrecon/refundrecon/web"
)

// errNothingFound asks for exit status 4: a customer check or look-up found
// nothing at all for what it was given. What was searched has been said.
var errNothingFound = errors.New("nothing matched")

const lookupUsage = "lookup takes one query: a cus_… id, an e-mail address, a ch_…, pi_… or re_… id, or a ledger refund id"

// cmdLookup is support's door: whatever the customer gave, the customers
// behind it, each checked as `customer` does.
func cmdLookup(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var s settings
	fs, e := newFlagSet("lookup", getenv, stderr, &s, true)
	format := fs.String("format", "text", "text or json")
	exitCode := fs.Bool("exit-code", false, "exit 3 when open discrepancies remain for the customers found")
	pos, err := e.parse(args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || strings.TrimSpace(pos[0]) == "" {
		return usagef(lookupUsage)
	}
	if err := checkFormat(*format); err != nil {
		return err
	}
	if err := s.check(true); err != nil {
		return err
	}
	a, err := openApp(ctx, &s, stderr)
	if err != nil {
		return err
	}
	defer a.Close()
	l, lerr := a.lookup(ctx, pos[0])
	if lerr != nil && len(l.Reports) == 0 && !errors.Is(lerr, errNothingFound) {
		return lerr
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(l); err != nil {
			return fmt.Errorf("write lookup: %w", err)
		}
	} else if lerr == nil || errors.Is(lerr, errNothingFound) {
		if err := report.WriteLookupText(stdout, l); err != nil {
			return fmt.Errorf("write lookup: %w", err)
		}
	}
	if lerr != nil {
		if errors.Is(lerr, errNothingFound) {
			return lerr
		}
		if *format == "json" {
			fmt.Fprintf(stderr, "refundrecon: lookup failed: %s\n", lerr)
			return errReported{lerr}
		}
		return fmt.Errorf("lookup failed: %w", lerr)
	}
	if *exitCode {
		for _, rep := range l.Reports {
			for _, d := range rep.Discrepancies {
				if d.Status == reconcile.StatusOpen {
					return errOpenDiscrepancies
				}
			}
		}
	}
	return nil
}

// lookup finds the customers behind query and checks each as `customer`
// does (the same runner path). It returns errNothingFound, with the
// look-up saying what was searched, when nothing matched. A failed check
// returns the reports so far and the error.
func (a *app) lookup(ctx context.Context, query string) (report.Lookup, error) {
	l := report.Lookup{Now: time.Now().UTC()}
	found, err := reconcile.FindCustomers(ctx, query, a.gateway, a.runner.Ledger)
	l.Found = found
	if err != nil {
		return l, fmt.Errorf("find customers: %w", err)
	}
	for _, c := range found.Customers {
		rep, err := a.reconcile(ctx, reconcile.Scope{CustomerID: c, Until: time.Now().UTC()})
		if errors.Is(err, reconcile.ErrNothingFound) {
			continue // a cus_… id Stripe and the ledger know nothing of
		}
		if err != nil {
			return l, fmt.Errorf("check customer %s: %w", c, err)
		}
		l.Reports = append(l.Reports, rep)
	}
	if l.NothingFound() {
		return l, errNothingFound
	}
	return l, nil
}

// apiLookup answers POST /api/lookup: the lookup JSON, found false when
// nothing matched (404 with the same JSON).
func (a *app) apiLookup(ctx context.Context, query string) (any, bool, error) {
	l, err := a.lookup(ctx, query)
	switch {
	case errors.Is(err, errNothingFound):
		return l, false, nil
	case err != nil && len(l.Reports) == 0:
		return nil, false, err
	}
	return l, true, err
}

// pageCheck answers the support page: the verdict as `lookup` prints it
// and the cases it names.
func (a *app) pageCheck(ctx context.Context, query string) (web.CheckResult, error) {
	l, err := a.lookup(ctx, query)
	if err != nil && !errors.Is(err, errNothingFound) {
		return web.CheckResult{}, err
	}
	var b strings.Builder
	if err := report.WriteLookupText(&b, l); err != nil {
		return web.CheckResult{}, err
	}
	res := web.CheckResult{Text: b.String(), Found: !l.NothingFound()}
	for _, rep := range l.Reports {
		for _, d := range rep.Discrepancies {
			res.Cases = append(res.Cases, d.ID)
		}
	}
	return res, nil
}
