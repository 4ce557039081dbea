package gateway

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
)

// viaStripeGo is the oracle: a page as stripe-go decodes it, converted.
func viaStripeGo(body []byte, metadataKey string) ([]reconcile.GatewayRefund, bool, error) {
	s := &Stripe{metadataKey: metadataKey, stats: &counters{}}
	var l stripe.RefundList
	if err := json.Unmarshal(body, &l); err != nil {
		return nil, false, err
	}
	if l.Data == nil {
		return nil, false, errors.New("no data")
	}
	out := []reconcile.GatewayRefund{}
	for _, r := range l.Data {
		g, err := s.convert(r)
		if err != nil {
			return nil, false, err
		}
		out = append(out, g)
	}
	return out, l.HasMore, nil
}

// viaPage is the same through decodeRefundPage and convertPage.
func viaPage(body []byte, metadataKey string) ([]reconcile.GatewayRefund, bool, error) {
	s := &Stripe{metadataKey: metadataKey, stats: &counters{}}
	var p refundPage
	if err := decodeRefundPage(body, metadataKey, &p); err != nil {
		return nil, false, err
	}
	if p.Data == nil {
		return nil, false, errors.New("no data")
	}
	out := []reconcile.GatewayRefund{}
	for i := range p.Data {
		g, err := s.convertPage(&p.Data[i])
		if err != nil {
			return nil, false, err
		}
		out = append(out, g)
	}
	return out, p.HasMore, nil
}

// samePage checks the page decoder against stripe-go on body: the same
// refunds when stripe-go reads it, and an error only where stripe-go errs.
func samePage(t testing.TB, body []byte, metadataKey string) {
	t.Helper()
	want, wantMore, wantErr := viaStripeGo(body, metadataKey)
	got, gotMore, gotErr := viaPage(body, metadataKey)
	switch {
	case gotErr != nil && wantErr == nil:
		t.Fatalf("%q: page decoder failed (%v) where stripe-go read %+v", body, gotErr, want)
	case gotErr == nil && wantErr == nil:
		if !reflect.DeepEqual(got, want) || gotMore != wantMore {
			t.Fatalf("%q:\npage decoder %+v has_more=%v\nstripe-go    %+v has_more=%v", body, got, gotMore, want, wantMore)
		}
	}
	// stripe-go failing where the decoder reads the page is allowed only
	// for fields the decoder does not read; the cases below pin down that
	// every body stripe-go refuses as a whole is refused too.
}

// refusedBoth lists bodies both must refuse.
var refusedBoth = map[string]string{
	"truncated":          `{"object":"list","data":[{"id":"re_1","object":"refund"`,
	"not JSON":           `<html>maintenance</html>`,
	"null":               `null`,
	"empty object":       `{}`,
	"null data":          `{"object":"list","data":null,"has_more":false,"url":"/v1/refunds"}`,
	"array":              `[]`,
	"empty":              ``,
	"trailing garbage":   `{"data":[]} x`,
	"two values":         `{"data":[]}{"data":[]}`,
	"data not an array":  `{"data":{"id":"re_1"}}`,
	"null element":       `{"data":[null]}`,
	"element without id": `{"data":[{"amount":5}]}`,
	"number element":     `{"data":[5]}`,
	"amount as text":     `{"data":[{"id":"re_1","amount":"5"}]}`,
	"amount fraction":    `{"data":[{"id":"re_1","amount":5.5}]}`,
	"amount exponent":    `{"data":[{"id":"re_1","amount":1e3}]}`,
	"amount too big":     `{"data":[{"id":"re_1","amount":9223372036854775808}]}`,
	"created as text":    `{"data":[{"id":"re_1","created":"1"}]}`,
	"id as number":       `{"data":[{"id":1}]}`,
	"charge as number":   `{"data":[{"id":"re_1","charge":1}]}`,
	"customer as number": `{"data":[{"id":"re_1","charge":{"id":"ch_1","customer":7}}]}`,
	"metadata array":     `{"data":[{"id":"re_1","metadata":[]}]}`,
	"metadata number":    `{"data":[{"id":"re_1","metadata":{"other":1}}]}`,
	"has_more as text":   `{"data":[],"has_more":"yes"}`,
	"bad escape":         `{"data":[{"id":"re_\x"}]}`,
	"control character":  "{\"data\":[{\"id\":\"re_\x01\"}]}",
	"bad literal":        `{"data":[],"has_more":tru}`,
	"bad number":         `{"data":[{"id":"re_1","x":-}]}`,
	"leading zero":       `{"data":[{"id":"re_1","x":01}]}`,
	"missing colon":      `{"data" []}`,
	"trailing comma":     `{"data":[],}`,
	"unclosed array":     `{"data":[`,
	"bad skipped value":  `{"data":[{"id":"re_1","x":{"a":[1,2,}]}}]}`,
}

// readBoth lists bodies both must read, to the same refunds.
var readBoth = []string{
	`{"object":"list","data":[],"has_more":false,"url":"/v1/refunds"}`,
	`{"data":[{"id":"re_1","amount":4500,"currency":"USD","status":"failed","failure_reason":"declined","created":1700000000,"metadata":{"ledger_refund_id":"lr_1","x":"y"},"charge":{"id":"ch_1","customer":"cus_1","payment_intent":"pi_1"}}],"has_more":true}`,
	`{"data":[{"id":"re_2","charge":"ch_2","payment_intent":{"id":"pi_r","object":"payment_intent"}}]}`,
	`{"data":[{"id":"re_3","charge":{"id":"ch_3","customer":{"id":"cus_3","object":"customer"},"payment_intent":null}}]}`,
	`{"data":[{"id":"re_4","charge":null,"payment_intent":"pi_4","metadata":null}]}`,
	`{"data":["re_5"]}`,
	`{"DATA":[{"ID":"re_6","Amount":1,"STATUS":"pending","Metadata":{"ledger_refund_id":"a"}}],"Has_More":true}`,
	`{"data":[{"id":"re_\u0037","charge":"ch_\u0037","metadata":{"ledger\u005frefund_id":"l\u00e9"}}]}`,
	"{\"data\":[{\"id\":\"re_\xff8\",\"currency\":\"\xc3\x89ur\"}]}",
	`{"data":[{"id":"re_9","metadata":{"ledger_refund_id":"a"},"metadata":{"other":"b"}}]}`,
	`{"data":[{"id":"re_10","metadata":{"ledger_refund_id":"a"},"metadata":null}]}`,
	`{"data":[{"id":"re_11","metadata":{"ledger_refund_id":null}}]}`,
	`{"data":[{"id":"re_12","id":"re_13","amount":1,"amount":null,"status":"weird_new","currency":"xof"}]}`,
	`{"data":[{"id":"re_14","charge":{"id":"ch_14","customer":"cus_a"},"charge":"ch_15"}]}`,
	`{"data":[{"id":"re_16","charge":""}],"data":[{"id":"re_17"}]}`,
	` { "data" : [ { "id" : "re_18" , "amount" : -0 , "x" : [ 1.5e-3 , true , false , null , { } , [ ] ] } ] } ` + "\n",
	`{"data":[{"id":"re_19","payment_intent":"","charge":{"id":"ch_19","payment_intent":"pi_c"}}]}`,
	`{"data":[{"id":"re_20","ſtatus":"succeeded","failure_reason":"unknown"}]}`,
}

func TestDecodeRefundPageMatchesStripeGo(t *testing.T) {
	for name, body := range refusedBoth {
		if _, _, err := viaStripeGo([]byte(body), DefaultMetadataKey); err == nil {
			t.Errorf("%s: the oracle reads %q", name, body)
		}
		if got, _, err := viaPage([]byte(body), DefaultMetadataKey); err == nil {
			t.Errorf("%s: the page decoder reads %q as %+v", name, body, got)
		}
	}
	for _, body := range readBoth {
		if _, _, err := viaStripeGo([]byte(body), DefaultMetadataKey); err != nil {
			t.Errorf("the oracle refuses %q: %v", body, err)
		}
		samePage(t, []byte(body), DefaultMetadataKey)
	}
	for _, body := range fakePages(t) {
		samePage(t, body, DefaultMetadataKey)
		samePage(t, body, "order_id")
	}
}

// fakePages renders pages of the fake Stripe with every status, expansion
// and metadata shape it has.
func fakePages(t testing.TB) [][]byte {
	f := fakestripe.New("")
	at := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := range 40 {
		ch := fmt.Sprintf("ch_%d", i)
		c := fakestripe.Charge{ID: ch, Amount: 10_000, Currency: []string{"usd", "EUR", "jpy"}[i%3], Created: at}
		if i%4 != 0 {
			c.Customer = fmt.Sprintf("cus_%d", i%7)
		}
		if i%5 != 0 {
			c.PaymentIntent = fmt.Sprintf("pi_%d", i)
		}
		if err := f.AddCharge(c); err != nil {
			t.Fatal(err)
		}
		r := fakestripe.Refund{ID: fmt.Sprintf("re_%d", i), Charge: ch, Amount: int64(100 + i), Created: at.Add(time.Duration(i) * time.Second),
			Status: []string{"succeeded", "pending", "requires_action", "failed", "canceled"}[i%5]}
		switch i % 3 {
		case 0:
			r.Metadata = map[string]string{DefaultMetadataKey: fmt.Sprintf("lr_%d \"q\" é \u2028", i), "order_id": "o"}
		case 1:
			r.Metadata = map[string]string{"order_id": fmt.Sprintf("o_%d", i)}
		}
		if err := f.AddRefund(r); err != nil {
			t.Fatal(err)
		}
	}
	if err := f.AddRefund(fakestripe.Refund{ID: "re_orphan", PaymentIntent: "pi_orphan", Amount: 5, Created: at}); err != nil {
		t.Fatal(err)
	}
	var pages [][]byte
	for _, q := range []string{
		"limit=100&expand[]=data.charge",
		"limit=7",
		"limit=100&expand[]=data.charge.customer&expand[]=data.payment_intent",
		"limit=100&expand[]=data.charge.payment_intent&expand[]=data.balance_transaction",
	} {
		rec := httptest.NewRecorder()
		f.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/refunds?"+q, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", q, rec.Code, rec.Body)
		}
		pages = append(pages, rec.Body.Bytes())
	}
	return pages
}

func FuzzDecodeRefundPage(f *testing.F) {
	for _, body := range refusedBoth {
		f.Add([]byte(body))
	}
	for _, body := range readBoth {
		f.Add([]byte(body))
	}
	for _, body := range fakePages(f) {
		f.Add(body)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		samePage(t, body, DefaultMetadataKey)
	})
}

func TestDecodeRefundPageKeepsNoBody(t *testing.T) {
	body := []byte(`{"data":[{"id":"re_1","charge":{"id":"ch_1","customer":"cus_1"},"metadata":{"ledger_refund_id":"lr_1"}}]}`)
	got, _, err := viaPage(body, DefaultMetadataKey)
	if err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	if g := got[0]; g.ID != "re_1" || g.ChargeID != "ch_1" || g.CustomerID != "cus_1" || g.LedgerRefundID != "lr_1" {
		t.Errorf("a refund changed with the body it came from: %+v", g)
	}
}

func BenchmarkDecodePage(b *testing.B) {
	body := fakePages(b)[0]
	b.Run("stripe-go", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := viaStripeGo(body, DefaultMetadataKey); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("page", func(b *testing.B) {
		b.SetBytes(int64(len(body)))
		for b.Loop() {
			if _, _, err := viaPage(body, DefaultMetadataKey); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestStatusAndCurrencyBytes pins the allocation-free interning.
func TestStatusAndCurrencyBytes(t *testing.T) {
	for _, c := range []string{"usd", "USD", "Eur", "xof", "", "u"} {
		if got, want := currencyBytes([]byte(c)), currency(c); got != want {
			t.Errorf("currencyBytes(%q) = %q, currency says %q", c, got, want)
		}
	}
	for _, s := range []string{"succeeded", "pending", "requires_action", "failed", "canceled", "odd", ""} {
		if got, want := statusBytes([]byte(s)), status(stripe.RefundStatus(s)); got != want {
			t.Errorf("statusBytes(%q) = %q, status says %q", s, got, want)
		}
	}
	if n := testing.AllocsPerRun(100, func() {
		_ = currencyBytes([]byte("usd"))
		_ = statusBytes([]byte("succeeded"))
		_ = failureReasonBytes([]byte("declined"))
	}); n > 0 {
		t.Errorf("interning allocates %v times", n)
	}
}
