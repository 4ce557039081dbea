package fakestripe_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/stripe/stripe-go/v76"
)

// Customers by e-mail, expanded charge refunds with has_more, ARNs and the
// HTML fault, through stripe-go; parameters Stripe does not accept are
// refused as Stripe refuses them.
func TestCustomersExpandedRefundsARN(t *testing.T) {
	fs, srv, sc := start(t)
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []fakestripe.Customer{{ID: "cus_a", Email: "a@example.com", Created: at}, {ID: "cus_b", Email: "A@example.com", Created: at}} {
		if err := fs.AddCustomer(c); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.AddCustomer(fakestripe.Customer{ID: "cus_a"}); err == nil {
		t.Error("duplicate customer accepted")
	}
	if err := fs.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_a", PaymentIntent: "pi_1", Amount: 10_000, Created: at}); err != nil {
		t.Fatal(err)
	}
	for i := range 11 {
		if err := fs.AddRefund(fakestripe.Refund{ID: fmt.Sprintf("re_%02d", i), Charge: "ch_1", Amount: 10, Created: at.Add(time.Duration(i) * time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := fs.SetRefundARN("re_10", "74500000000000000000001"); err != nil {
		t.Fatal(err)
	}

	var got []string
	it := sc.Customers.List(&stripe.CustomerListParams{Email: stripe.String("a@example.com")})
	for it.Next() {
		got = append(got, it.Customer().ID+" "+it.Customer().Email)
	}
	if it.Err() != nil || strings.Join(got, ",") != "cus_a a@example.com" {
		t.Fatalf("customers by email: %v %v (the match is exact, case included)", got, it.Err())
	}

	p := &stripe.ChargeListParams{PaymentIntent: stripe.String("pi_1")}
	p.AddExpand("data.refunds")
	ci := sc.Charges.List(p)
	if !ci.Next() {
		t.Fatalf("charges of pi_1: %v", ci.Err())
	}
	rl := ci.Charge().Refunds
	if rl == nil || len(rl.Data) != 10 || !rl.HasMore || rl.Data[0].ID != "re_10" {
		t.Fatalf("expanded refunds: %+v", rl)
	}
	if d := rl.Data[0].DestinationDetails; d == nil || d.Card == nil || d.Card.Reference != "74500000000000000000001" {
		t.Fatalf("ARN: %+v", d)
	}
	if d := rl.Data[1].DestinationDetails; d != nil {
		t.Errorf("a refund without ARN has destination_details %+v", d)
	}

	// Not on refunds: refunds have no refunds to expand; no unknown filters.
	rp := &stripe.RefundListParams{}
	rp.AddExpand("data.refunds")
	if ri := sc.Refunds.List(rp); ri.Next() || ri.Err() == nil {
		t.Error("data.refunds expanded on a refund listing")
	}
	if res, body := rawDo(t, "GET", srv.URL+"/v1/customers?name=x", testKey); res.StatusCode != 400 || !strings.Contains(body, "Received unknown parameter: name") {
		t.Errorf("unknown customer filter: %d %s", res.StatusCode, body)
	}

	fs.InjectFault(fakestripe.Fault{HTML: true, Status: 404})
	res, body := rawDo(t, "GET", srv.URL+"/v1/refunds/re_01", testKey)
	if res.StatusCode != 404 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/html") || !strings.Contains(body, "<html>") {
		t.Errorf("HTML fault: %d %q %s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
}
