package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
)

// seedSupport: two customers share ann@example.com; cus_1 has a refund
// Stripe sent (with an ARN) and one Stripe failed; cus_2 a refund the
// ledger does not record; bob has nothing refunded.
func seedSupport(w *world) {
	w.t.Helper()
	day := 24 * time.Hour
	for _, c := range []fakestripe.Customer{
		{ID: "cus_1", Email: "ann@example.com", Created: w.ago(500 * day)},
		{ID: "cus_2", Email: "ann@example.com", Created: w.ago(400 * day)},
		{ID: "cus_3", Email: "bob@example.com", Created: w.ago(400 * day)},
	} {
		if err := w.stripe.AddCustomer(c); err != nil {
			w.t.Fatal(err)
		}
	}
	w.charge("ch_1", "cus_1", 4500, "usd", w.ago(60*day))
	w.charge("ch_2", "cus_1", 2000, "usd", w.ago(50*day))
	w.charge("ch_3", "cus_2", 1500, "usd", w.ago(40*day))
	w.charge("ch_4", "cus_3", 900, "usd", w.ago(40*day))
	w.refund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 4500, Created: w.ago(20 * day), ARN: "74567891234567890123456"})
	w.refund(fakestripe.Refund{ID: "re_2", Charge: "ch_2", Amount: 2000, Created: w.ago(10 * day)})
	if err := w.stripe.FailRefund("re_2", "expired_or_canceled_card", w.ago(8*day)); err != nil {
		w.t.Fatal(err)
	}
	w.refund(fakestripe.Refund{ID: "re_3", Charge: "ch_3", Amount: 1500, Created: w.ago(5 * day)})
	w.ledger(
		reconcile.LedgerRefund{ID: "lr_1", CustomerID: "cus_1", ChargeID: "ch_1", GatewayRefundID: "re_1", Amount: 4500, Currency: "usd",
			Status: reconcile.LedgerComplete, CreatedAt: w.ago(20 * day), CompletedAt: w.ago(20 * day)},
		reconcile.LedgerRefund{ID: "lr_2", CustomerID: "cus_1", ChargeID: "ch_2", GatewayRefundID: "re_2", Amount: 2000, Currency: "usd",
			Status: reconcile.LedgerComplete, CreatedAt: w.ago(10 * day), CompletedAt: w.ago(10 * day)},
	)
}

type lookupJSON struct {
	jsonReport
	Query     string   `json:"query"`
	Customers []string `json:"customers"`
	Verdict   string   `json:"verdict"`
	Refunds   []struct {
		LedgerRefundID   *string  `json:"ledger_refund_id"`
		GatewayRefundIDs []string `json:"gateway_refund_ids"`
		ChargeID         *string  `json:"charge_id"`
		Currency         *string  `json:"currency"`
		Amount           *int64   `json:"amount"`
		State            string   `json:"state"`
		SentAt           *string  `json:"sent_at"`
		ARN              *string  `json:"arn"`
		DiscrepancyID    *string  `json:"discrepancy_id"`
		Explanation      string   `json:"explanation"`
	} `json:"refunds"`
}

func decodeLookup(t *testing.T, out string) lookupJSON {
	t.Helper()
	var l lookupJSON
	dec := json.NewDecoder(strings.NewReader(out))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		t.Fatalf("decode lookup: %v\n%s", err, out)
	}
	return l
}

// Each kind of query finds the right customers.
func TestLookupFindsCustomers(t *testing.T) {
	w := newWorld(t)
	seedSupport(w)
	for query, want := range map[string][]string{
		"ann@example.com": {"cus_1", "cus_2"},
		"bob@example.com": {"cus_3"},
		"cus_1":           {"cus_1"},
		"ch_2":            {"cus_1"},
		"pi_3":            {"cus_2"},
		"re_3":            {"cus_2"},
		"lr_2":            {"cus_1"},
	} {
		out, stderr, err := w.run("lookup", query, "--format", "json")
		if err != nil {
			t.Fatalf("lookup %s: %v\n%s", query, err, stderr)
		}
		l := decodeLookup(t, out)
		got := slices.Clone(l.Customers)
		slices.Sort(got)
		if !slices.Equal(got, want) || l.Query != query || l.Status != "succeeded" {
			t.Errorf("lookup %s: customers %v status %s, want %v", query, l.Customers, l.Status, want)
		}
	}
}

// Every refund is named, OK ones too, with when Stripe sent it and its ARN;
// a failed one says what to do.
func TestLookupNamesEveryRefund(t *testing.T) {
	w := newWorld(t)
	seedSupport(w)
	out, stderr, err := w.run("lookup", "ann@example.com", "--format", "json")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	l := decodeLookup(t, out)
	states := map[string]string{}
	for _, r := range l.Refunds {
		if len(r.GatewayRefundIDs) == 0 {
			t.Fatalf("refund without gateway ids: %+v", r)
		}
		id := r.GatewayRefundIDs[0]
		states[id] = r.State
		switch id {
		case "re_1":
			if r.SentAt == nil || r.ARN == nil || *r.ARN != "74567891234567890123456" || r.DiscrepancyID != nil ||
				!strings.Contains(r.Explanation, "5–10 business days") || r.Amount == nil || *r.Amount != 4500 {
				t.Errorf("sent refund: %+v", r)
			}
		case "re_2":
			if r.SentAt != nil || r.DiscrepancyID == nil || !strings.Contains(r.Explanation, "refund them again") {
				t.Errorf("failed refund: %+v", r)
			}
		}
	}
	want := map[string]string{"re_1": "refunded", "re_2": "not_refunded", "re_3": "refunded_without_ledger_record"}
	if fmt.Sprint(states) != fmt.Sprint(want) {
		t.Fatalf("states %v, want %v", states, want)
	}
	if !strings.Contains(l.Verdict, "cus_1") || !strings.Contains(l.Verdict, "did NOT reach the customer") {
		t.Errorf("verdict %q", l.Verdict)
	}

	out, _, err = w.run("lookup", "ann@example.com")
	if exitCode(err, &bytes.Buffer{}) != exitOK {
		t.Fatal(err)
	}
	for _, s := range []string{"2 customers (", "cus_1", "cus_2", "ARN) is 74567891234567890123456", "NOT REFUNDED", "re_3"} {
		if !strings.Contains(out, s) {
			t.Errorf("lookup text lacks %q:\n%s", s, out)
		}
	}
	if strings.Contains(out, "received this money") {
		t.Errorf("a sent refund reads as received:\n%s", out)
	}
	if _, _, err := w.run("lookup", "ann@example.com", "--exit-code"); exitCode(err, &bytes.Buffer{}) != exitDiscrepancies {
		t.Errorf("--exit-code with open cases: %v", err)
	}
}

// Nothing matched: exit 4 and a sentence saying what was searched, never
// "no problem found" — for lookup and for customer.
func TestLookupNothingFound(t *testing.T) {
	w := newWorld(t)
	seedSupport(w)
	for _, q := range []string{"nobody@example.com", "cus_doesnotexist", "ch_nope", "pi_nope", "re_nope", "lr_nope"} {
		out, _, err := w.run("lookup", q)
		if got := exitCode(err, &bytes.Buffer{}); got != exitNotFound {
			t.Errorf("lookup %s: exit %d (%v), want 4", q, got, err)
		}
		if !strings.Contains(out, "Nothing matched") || !strings.Contains(out, q) || strings.Contains(out, "no problem found") {
			t.Errorf("lookup %s said:\n%s", q, out)
		}
		out, _, err = w.run("lookup", q, "--format", "json")
		l := decodeLookup(t, out)
		if exitCode(err, &bytes.Buffer{}) != exitNotFound || len(l.Customers) != 0 || len(l.Refunds) != 0 || !strings.Contains(l.Verdict, "Nothing matched") {
			t.Errorf("lookup %s json: %+v (%v)", q, l, err)
		}
	}
	for _, id := range []string{"cus_doesnotexist", "ch_1", "ann@example.com"} {
		out, _, err := w.run("customer", id)
		if got := exitCode(err, &bytes.Buffer{}); got != exitNotFound || strings.Contains(out, "no problem found") || !strings.Contains(out, "Nothing matched") {
			t.Errorf("customer %s: exit %d, said:\n%s", id, got, out)
		}
	}
}

// A customer with 50 charges is checked in at most 3 Stripe requests: the
// charges with their refunds expanded, and the refund-failure sweep.
func TestCustomerCheckRequests(t *testing.T) {
	w := newWorld(t)
	seedCharges(w.t, w.stripe, w.ledger, "cus_50", 50, w.ago(100*24*time.Hour))
	w.stripe.ResetRequests()
	if _, stderr, err := w.run("customer", "cus_50"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	reqs := w.stripe.Requests()
	if len(reqs) > 3 {
		for _, r := range reqs {
			t.Logf("%s %s?%s", r.Method, r.Path, r.Query.Encode())
		}
		t.Fatalf("%d Stripe requests for 50 charges, want at most 3", len(reqs))
	}
}

// seedCharges gives a customer n charges, each refunded once (every
// fifth refund failed) and recorded in the ledger.
func seedCharges(t testing.TB, fs *fakestripe.Server, ledger func(...reconcile.LedgerRefund), customer string, n int, from time.Time) {
	t.Helper()
	var rows []reconcile.LedgerRefund
	for i := range n {
		ch := fmt.Sprintf("ch_%s_%03d", customer, i)
		re := fmt.Sprintf("re_%s_%03d", customer, i)
		at := from.Add(time.Duration(i) * time.Hour)
		if err := fs.AddCharge(fakestripe.Charge{ID: ch, Customer: customer, PaymentIntent: "pi_" + ch[3:], Amount: 5000, Created: at}); err != nil {
			t.Fatal(err)
		}
		st := "succeeded"
		if i%5 == 0 {
			st = "failed"
		}
		if err := fs.AddRefund(fakestripe.Refund{ID: re, Charge: ch, Amount: 1000, Status: st, Created: at.Add(time.Minute), ARN: "7456" + fmt.Sprint(1000+i)}); err != nil {
			t.Fatal(err)
		}
		rows = append(rows, reconcile.LedgerRefund{ID: "lr_" + re[3:], CustomerID: customer, ChargeID: ch, GatewayRefundID: re, Amount: 1000,
			Currency: "usd", Status: reconcile.LedgerComplete, CreatedAt: at.Add(time.Minute), CompletedAt: at.Add(time.Minute)})
	}
	ledger(rows...)
}
