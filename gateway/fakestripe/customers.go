package fakestripe

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
)

// Customer is a customer to load into the fake with AddCustomer.
type Customer struct {
	// ID is the customer id ("cus_..."); required and unique.
	ID string
	// Email is the customer's e-mail address, "" for none. Several
	// customers may share one, as on Stripe.
	Email string
	// Name is the customer's name, "" for none.
	Name string
	// Created is the creation time (second precision); zero means now.
	Created time.Time
}

// customer is the stored form.
type customer struct {
	id, email, name string
	created         int64
}

// AddCustomer adds a customer. Charges may name customers that were never
// added (as before customers existed in the fake); only added ones are
// listed and retrieved.
func (s *Server) AddCustomer(c Customer) error {
	if err := checkID("customer", c.ID); err != nil {
		return err
	}
	if err := checkStr("email", c.Email); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.customerByID == nil {
		s.customerByID = map[string]int32{}
	}
	if _, dup := s.customerByID[c.ID]; dup {
		return fmt.Errorf("fakestripe: duplicate customer ID %s", c.ID)
	}
	e := int32(len(s.customers))
	s.customers = append(s.customers, customer{id: c.ID, email: c.Email, name: c.Name, created: unix(c.Created)})
	s.customerByID[c.ID] = e
	s.customerTL.add(e)
	return nil
}

// SetRefundARN gives a refund the card network's reference (the acquirer
// reference number), rendered as destination_details.card.reference.
func (s *Server) SetRefundARN(id, arn string) error {
	if err := checkStr("arn", arn); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.refundIndex(id)
	if e == noElem {
		return fmt.Errorf("fakestripe: no such refund %s", id)
	}
	if s.arns == nil {
		s.arns = map[int32]string{}
	}
	s.arns[e] = arn
	return nil
}

func (s *Server) customerIndex(id string) int32 {
	if e, ok := s.customerByID[id]; ok {
		return e
	}
	return noElem
}

func (s *Server) customerCreated(e int32) int64 { return s.customers[e].created }

var customerParams = paramSet("email")

func (s *Server) customerCandidates(q url.Values, o *listOpts) ([]int32, bool, *apiError) {
	email := q.Get("email")
	if email == "" {
		return s.customerTL.window(o.lo, o.hi, s.customerCreated), false, nil
	}
	// Stripe matches the e-mail exactly, case included.
	var c []int32
	for e := range s.customers {
		if s.customers[e].email == email {
			c = append(c, int32(e))
		}
	}
	return c, true, nil
}

func (s *Server) appendCustomer(b []byte, e int32, _ []string) []byte {
	c := &s.customers[e]
	b = append(b, `{"id":`...)
	b = appendStr(b, c.id)
	b = append(b, `,"object":"customer","balance":0,"created":`...)
	b = appendInt(b, c.created)
	b = append(b, `,"currency":null,"default_source":null,"delinquent":false,"description":null,"email":`...)
	b = appendNullable(b, c.email)
	b = append(b, `,"invoice_prefix":null,"livemode":false,"metadata":{},"name":`...)
	b = appendNullable(b, c.name)
	b = append(b, `,"phone":null,"preferred_locales":[],"shipping":null,"tax_exempt":"none","test_clock":null}`...)
	return b
}

func appendNullable(b []byte, s string) []byte {
	if s == "" {
		return append(b, "null"...)
	}
	return appendStr(b, s)
}

// chargeRefundsListed is how many refunds an expanded charge.refunds list
// holds, as Stripe's default page; has_more says when there are more.
const chargeRefundsListed = 10

// appendChargeRefunds renders a charge's expanded refunds list: the newest
// first, at most chargeRefundsListed of them.
func (s *Server) appendChargeRefunds(b []byte, ch int32) []byte {
	var rs []int32
	for e := s.charges[ch].firstRefund; e != noElem; e = s.refunds[e].next {
		rs = append(rs, e) // latest inserted first
	}
	slices.SortStableFunc(rs, func(x, y int32) int {
		return -cmpInt(s.refunds[x].created, s.refunds[y].created)
	})
	more := len(rs) > chargeRefundsListed
	if more {
		rs = rs[:chargeRefundsListed]
	}
	b = append(b, `{"object":"list","data":[`...)
	for i, e := range rs {
		if i > 0 {
			b = append(b, ',')
		}
		b = s.appendRefund(b, e, nil)
	}
	b = append(b, `],"has_more":`...)
	if more {
		b = append(b, "true"...)
	} else {
		b = append(b, "false"...)
	}
	b = append(b, `,"url":"/v1/charges/`...)
	b = append(b, strings.ReplaceAll(s.ar.str(s.charges[ch].id), `"`, "")...)
	b = append(b, `/refunds"}`...)
	return b
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// appendDestination renders a refund's destination_details: the card's
// reference (ARN) when it has one.
func (s *Server) appendDestination(b []byte, e int32) []byte {
	arn, ok := s.arns[e]
	if !ok {
		return append(b, "null"...)
	}
	b = append(b, `{"card":{"reference":`...)
	b = appendStr(b, arn)
	b = append(b, `,"reference_status":"available","reference_type":"acquirer_reference_number","type":"refund"},"type":"card"}`...)
	return b
}
