package gateway

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
)

var _ reconcile.Directory = (*Stripe)(nil)

// CustomerRefunds lists a customer's charges with their refunds expanded
// (GET /v1/charges?customer=…&expand[]=data.refunds, a hundred charges a
// page): one request for a customer with up to a hundred charges. A
// charge whose expanded refunds say has_more is listed on its own
// (/v1/refunds?charge=…). It returns the charge ids, in Stripe's order, and
// every refund of them, each with its charge, payment intent and customer.
func (s *Stripe) CustomerRefunds(ctx context.Context, customerID string) ([]string, []reconcile.GatewayRefund, error) {
	op := "list stripe charges and refunds of customer " + strconv.Quote(customerID)
	if customerID == "" {
		return nil, nil, errors.New("list stripe charges and refunds of customer: empty customer id")
	}
	p := &stripe.ChargeListParams{
		ListParams: stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)},
		Customer:   stripe.String(customerID),
	}
	p.AddExpand("data.refunds")
	var ids, more []string
	var refunds []reconcile.GatewayRefund
	err := each(s.api.Charges.List(p).Iter, "charges",
		func(l stripe.ListContainer) []*stripe.Charge { return l.(*stripe.ChargeList).Data },
		func(c *stripe.Charge) string { return c.ID },
		func(c *stripe.Charge) error {
			if c.ID == "" {
				return errors.New("stripe answered a charge without id")
			}
			ids = append(ids, c.ID)
			if c.Refunds == nil {
				// Not expanded: a server that ignored expand[] must not
				// pass for a charge without refunds.
				more = append(more, c.ID)
				return nil
			}
			if c.Refunds.HasMore {
				more = append(more, c.ID)
				return nil
			}
			for _, r := range c.Refunds.Data {
				g, err := s.convert(r)
				if err != nil {
					return err
				}
				g.ChargeID = c.ID
				if g.PaymentIntentID == "" && c.PaymentIntent != nil {
					g.PaymentIntentID = c.PaymentIntent.ID
				}
				g.CustomerID = customerID
				if c.Customer != nil && c.Customer.ID != "" {
					g.CustomerID = c.Customer.ID
				}
				refunds = append(refunds, g)
			}
			return nil
		})
	if err != nil {
		return nil, nil, s.fail(op, err)
	}
	for _, ch := range more {
		rs, err := s.ChargeRefunds(ctx, ch)
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", op, err)
		}
		refunds = append(refunds, rs...)
	}
	return ids, refunds, nil
}

// CustomersByEmail lists the ids of the customers with that e-mail address
// (Stripe matches it exactly, case included); several may share one.
func (s *Stripe) CustomersByEmail(ctx context.Context, email string) ([]string, error) {
	const op = "list stripe customers by email"
	if email == "" {
		return nil, errors.New(op + ": empty email")
	}
	p := &stripe.CustomerListParams{
		ListParams: stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)},
		Email:      stripe.String(email),
	}
	var ids []string
	err := each(s.api.Customers.List(p).Iter, "customers",
		func(l stripe.ListContainer) []*stripe.Customer { return l.(*stripe.CustomerList).Data },
		func(c *stripe.Customer) string { return c.ID },
		func(c *stripe.Customer) error {
			if c.ID == "" {
				return errors.New("stripe answered a customer without id")
			}
			ids = append(ids, c.ID)
			return nil
		})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return ids, nil
}

// Charge looks one charge up; an error wrapping reconcile.ErrNotFound when
// Stripe has none.
func (s *Stripe) Charge(ctx context.Context, id string) (reconcile.Charge, error) {
	op := "get stripe charge " + strconv.Quote(id)
	if id == "" {
		return reconcile.Charge{}, errors.New("get stripe charge: empty id")
	}
	c, err := s.api.Charges.Get(id, &stripe.ChargeParams{Params: stripe.Params{Context: ctx}})
	if err != nil {
		return reconcile.Charge{}, s.fail(op, err)
	}
	return chargeOf(c), nil
}

// PaymentIntentCharges lists the charges of a payment intent
// (GET /v1/charges?payment_intent=…).
func (s *Stripe) PaymentIntentCharges(ctx context.Context, paymentIntentID string) ([]reconcile.Charge, error) {
	op := "list stripe charges of payment intent " + strconv.Quote(paymentIntentID)
	if paymentIntentID == "" {
		return nil, errors.New("list stripe charges of payment intent: empty id")
	}
	p := &stripe.ChargeListParams{
		ListParams:    stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)},
		PaymentIntent: stripe.String(paymentIntentID),
	}
	var out []reconcile.Charge
	err := each(s.api.Charges.List(p).Iter, "charges",
		func(l stripe.ListContainer) []*stripe.Charge { return l.(*stripe.ChargeList).Data },
		func(c *stripe.Charge) string { return c.ID },
		func(c *stripe.Charge) error {
			if c.ID == "" {
				return errors.New("stripe answered a charge without id")
			}
			out = append(out, chargeOf(c))
			return nil
		})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return out, nil
}

func chargeOf(c *stripe.Charge) reconcile.Charge {
	out := reconcile.Charge{ID: c.ID}
	if c.Customer != nil {
		out.CustomerID = c.Customer.ID
	}
	if c.PaymentIntent != nil {
		out.PaymentIntentID = c.PaymentIntent.ID
	}
	return out
}
