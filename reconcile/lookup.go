package reconcile

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrNothingFound: a support look-up (or a customer check) found nothing at
// all for what it was given — no customer, charge, refund or ledger row.
// Never "no problem found": the command exits 4.
var ErrNothingFound = errors.New("nothing matched")

// Charge is a gateway charge as a look-up finds it.
type Charge struct {
	ID, CustomerID, PaymentIntentID string
}

// Directory finds the customers behind what a customer gave support.
type Directory interface {
	// CustomersByEmail lists the customers with that e-mail address.
	CustomersByEmail(ctx context.Context, email string) ([]string, error)
	// Charge looks one charge up; ErrNotFound when there is none.
	Charge(ctx context.Context, id string) (Charge, error)
	// PaymentIntentCharges lists the charges of a payment intent.
	PaymentIntentCharges(ctx context.Context, paymentIntentID string) ([]Charge, error)
	// Refund looks one refund up; ErrNotFound when there is none.
	Refund(ctx context.Context, id string) (GatewayRefund, error)
}

// Found is what a look-up found behind a query: the customers to check, in
// order, and what was searched, to say when nothing matched.
type Found struct {
	Query     string
	Customers []string
	Searched  string
}

// FindCustomers finds the customers behind query: a cus_… id (that
// customer), an e-mail address (Stripe's customers with it), a ch_…, pi_…
// or re_… id (the customer of that charge, payment intent or refund), or
// else a ledger refund id. A gateway object without a customer still leads
// to the ledger rows that name it. Found.Customers is empty when nothing
// matched.
func FindCustomers(ctx context.Context, query string, dir Directory, ledger Ledger) (Found, error) {
	q := strings.TrimSpace(query)
	f := Found{Query: q}
	var custs []string
	add := func(c string) {
		if c != "" && !slices.Contains(custs, c) {
			custs = append(custs, c)
		}
	}
	ledgerBy := func(lq LedgerQuery) error {
		return ledger.Refunds(ctx, lq, func(l LedgerRefund) error {
			add(l.CustomerID)
			return nil
		})
	}
	switch {
	case q == "":
		f.Searched = "an empty query"
		return f, nil
	case strings.HasPrefix(q, "cus_"):
		f.Searched = "the customer " + q + " (Stripe's charges of " + q + " and the ledger's refunds of " + q + ")"
		// A customer id is taken as given: the check itself says whether
		// anything of it exists.
		add(q)
	case strings.Contains(q, "@"):
		f.Searched = "Stripe's customers with the e-mail address " + q
		ids, err := dir.CustomersByEmail(ctx, q)
		if err != nil {
			return f, fmt.Errorf("find customers by email: %w", err)
		}
		for _, id := range ids {
			add(id)
		}
	case strings.HasPrefix(q, "ch_"):
		f.Searched = "the charge " + q + " at Stripe and the ledger's refunds of it"
		c, err := dir.Charge(ctx, q)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return f, fmt.Errorf("look up charge: %w", err)
		default:
			add(c.CustomerID)
		}
		if err := ledgerBy(LedgerQuery{ChargeIDs: []string{q}}); err != nil {
			return f, fmt.Errorf("look up ledger refunds of charge: %w", err)
		}
	case strings.HasPrefix(q, "pi_"):
		f.Searched = "the payment intent " + q + " at Stripe and the ledger's refunds of it"
		cs, err := dir.PaymentIntentCharges(ctx, q)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return f, fmt.Errorf("look up charges of payment intent: %w", err)
		}
		for _, c := range cs {
			add(c.CustomerID)
		}
		if err := ledgerBy(LedgerQuery{PaymentIntentIDs: []string{q}}); err != nil {
			return f, fmt.Errorf("look up ledger refunds of payment intent: %w", err)
		}
	case strings.HasPrefix(q, "re_"):
		f.Searched = "the refund " + q + " at Stripe and the ledger's refunds recording it"
		g, err := dir.Refund(ctx, q)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return f, fmt.Errorf("look up refund: %w", err)
		default:
			add(g.CustomerID)
			if g.CustomerID == "" && g.ChargeID != "" {
				if c, err := dir.Charge(ctx, g.ChargeID); err == nil {
					add(c.CustomerID)
				} else if !errors.Is(err, ErrNotFound) {
					return f, fmt.Errorf("look up charge of refund: %w", err)
				}
			}
		}
		if err := ledgerBy(LedgerQuery{GatewayRefundIDs: []string{q}}); err != nil {
			return f, fmt.Errorf("look up ledger refunds recording refund: %w", err)
		}
	default:
		f.Searched = "the ledger refund " + q
		if err := ledgerBy(LedgerQuery{IDs: []string{q}}); err != nil {
			return f, fmt.Errorf("look up ledger refund: %w", err)
		}
	}
	f.Customers = custs
	return f, nil
}

// NothingFound is the sentence said when a look-up matched nothing.
func (f Found) NothingFound() string {
	return fmt.Sprintf("Nothing matched %q: searched %s and found no customer, charge, refund or ledger row. Check what the customer gave (a typo, another e-mail address, another account).", f.Query, f.Searched)
}
