package gateway

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// TestCustomerRefundsOneListing: a customer's 50 charges and their refunds
// come in one request (charges with data.refunds expanded); a charge whose
// expanded refunds say has_more is listed on its own; ARNs come through.
func TestCustomerRefundsOneListing(t *testing.T) {
	f, srv := fake(t)
	var want []string
	for i := range 50 {
		ch := fmt.Sprintf("ch_%02d", i)
		must(t, f.AddCharge(fakestripe.Charge{ID: ch, Customer: "cus_A", PaymentIntent: "pi_" + ch[3:], Amount: 10_000, Created: day0.Add(time.Duration(i) * time.Minute)}))
		if i%2 == 0 {
			id := "re_" + ch[3:]
			must(t, f.AddRefund(fakestripe.Refund{ID: id, Charge: ch, Amount: 100, Created: day0.Add(time.Hour), ARN: "ARN" + ch[3:]}))
			want = append(want, id)
		}
	}
	// ch_07 has 12 refunds: more than its expanded list holds.
	for k := range 12 {
		id := fmt.Sprintf("re_07_%02d", k)
		must(t, f.AddRefund(fakestripe.Refund{ID: id, Charge: "ch_07", Amount: 10, Created: day0.Add(time.Duration(k) * time.Second), Status: "failed"}))
		want = append(want, id)
	}
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_other", Customer: "cus_B", Amount: 100, Created: day0}))
	s, _ := testGateway(t, srv.URL, nil)

	f.ResetRequests()
	charges, refunds, err := s.CustomerRefunds(context.Background(), "cus_A")
	if err != nil {
		t.Fatal(err)
	}
	if len(charges) != 50 {
		t.Fatalf("%d charges, want 50", len(charges))
	}
	var got []string
	for _, g := range refunds {
		got = append(got, g.ID)
		if g.CustomerID != "cus_A" || g.ChargeID == "" || g.PaymentIntentID != "pi_"+g.ChargeID[3:] {
			t.Errorf("refund %+v lacks its charge, intent or customer", g)
		}
		if g.ID == "re_04" && g.ARN != "ARN04" {
			t.Errorf("re_04 ARN %q, want ARN04", g.ARN)
		}
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("refunds %v\nwant %v", got, want)
	}
	reqs := f.Requests()
	if len(reqs) != 2 || reqs[0].Path != "/v1/charges" || reqs[0].Query.Get("expand[0]") != "data.refunds" ||
		reqs[1].Path != "/v1/refunds" || reqs[1].Query.Get("charge") != "ch_07" {
		t.Fatalf("requests %+v, want the charges listing with refunds expanded, then ch_07's refunds", reqs)
	}
}

func TestDirectoryLookups(t *testing.T) {
	f, srv := fake(t)
	must(t, f.AddCustomer(fakestripe.Customer{ID: "cus_A", Email: "ann@example.com", Created: day0}))
	must(t, f.AddCustomer(fakestripe.Customer{ID: "cus_A2", Email: "ann@example.com", Created: day0.Add(time.Hour)}))
	must(t, f.AddCustomer(fakestripe.Customer{ID: "cus_B", Email: "bob@example.com", Created: day0}))
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_A", PaymentIntent: "pi_1", Amount: 500, Created: day0}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 500, Created: day0, ARN: "74567890123456789012345"}))
	s, _ := testGateway(t, srv.URL, nil)
	ctx := context.Background()

	ids, err := s.CustomersByEmail(ctx, "ann@example.com")
	slices.Sort(ids)
	if err != nil || !slices.Equal(ids, []string{"cus_A", "cus_A2"}) {
		t.Errorf("by email: %v, %v", ids, err)
	}
	if ids, err := s.CustomersByEmail(ctx, "nobody@example.com"); err != nil || len(ids) != 0 {
		t.Errorf("unknown email: %v, %v", ids, err)
	}
	c, err := s.Charge(ctx, "ch_1")
	if err != nil || c != (reconcile.Charge{ID: "ch_1", CustomerID: "cus_A", PaymentIntentID: "pi_1"}) {
		t.Errorf("charge: %+v, %v", c, err)
	}
	if _, err := s.Charge(ctx, "ch_nope"); !errors.Is(err, reconcile.ErrNotFound) {
		t.Errorf("unknown charge: %v, want ErrNotFound", err)
	}
	cs, err := s.PaymentIntentCharges(ctx, "pi_1")
	if err != nil || len(cs) != 1 || cs[0].CustomerID != "cus_A" {
		t.Errorf("charges of pi_1: %+v, %v", cs, err)
	}
	g, err := s.Refund(ctx, "re_1")
	if err != nil || g.ARN != "74567890123456789012345" || g.CustomerID != "cus_A" {
		t.Errorf("refund: %+v, %v", g, err)
	}
	rs, err := s.ChargeRefunds(ctx, "ch_1") // the one-pass page decoder
	if err != nil || len(rs) != 1 || rs[0].ARN != "74567890123456789012345" {
		t.Errorf("listed refund: %+v, %v", rs, err)
	}
}
