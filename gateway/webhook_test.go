package gateway

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/gateway/fakestripe"
	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76/webhook"
)

const testWebhookSecret = "whsec_test_refundrecon_0123456789"

// fakeEvents returns the raw events the fake holds, newest first, as Stripe
// would deliver them.
func fakeEvents(t *testing.T, baseURL string) []json.RawMessage {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, baseURL+"/v1/events?limit=100", nil)
	req.Header.Set("Authorization", "Bearer "+testKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var list struct {
		Data []json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(body, &list); err != nil || resp.StatusCode != 200 {
		t.Fatalf("list events: %d %v\n%s", resp.StatusCode, err, body)
	}
	return list.Data
}

func sign(payload []byte, secret string, at time.Time) string {
	return webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{Payload: payload, Secret: secret, Timestamp: at}).Header
}

func TestParseWebhook(t *testing.T) {
	f, srv := fake(t)
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_1", PaymentIntent: "pi_1", Amount: 5000, Created: day0}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 5000, Created: day0.Add(time.Hour)}))
	must(t, f.FailRefund("re_1", "expired_or_canceled_card", day0.Add(48*time.Hour)))
	events := fakeEvents(t, srv.URL)
	var payload []byte
	for _, e := range events {
		if strings.Contains(string(e), `"type":"charge.refund.updated"`) {
			payload = e
		}
	}
	if payload == nil {
		t.Fatalf("the fake made no charge.refund.updated event: %s", events)
	}
	now := time.Now()

	ev, ok, err := ParseWebhook(payload, sign(payload, testWebhookSecret, now), testWebhookSecret, 0)
	if err != nil || !ok {
		t.Fatalf("signed event refused: ok=%v %v", ok, err)
	}
	want := reconcile.RefundEvent{ID: ev.ID, Type: "charge.refund.updated", RefundID: "re_1", ChargeID: "ch_1", PaymentIntentID: "pi_1",
		Status: reconcile.RefundFailed, Created: day0.Add(48 * time.Hour)}
	if ev != want || !strings.HasPrefix(ev.ID, "evt_") {
		t.Fatalf("event\n got  %+v\n want %+v", ev, want)
	}

	refused := []struct {
		name, header, secret string
		body                 []byte
	}{
		{"unsigned", "", testWebhookSecret, payload},
		{"other secret", sign(payload, "whsec_other", now), testWebhookSecret, payload},
		{"stale", sign(payload, testWebhookSecret, now.Add(-6*time.Minute)), testWebhookSecret, payload},
		{"body changed after signing", sign(payload, testWebhookSecret, now), testWebhookSecret, append([]byte(" "), payload...)},
		{"garbage header", "t=abc,v1=zz", testWebhookSecret, payload},
		{"no secret configured", sign(payload, "", now), "", payload},
		{"signed, not an event", sign([]byte(`{"nope":`), testWebhookSecret, now), testWebhookSecret, []byte(`{"nope":`)},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok, err := ParseWebhook(tc.body, tc.header, tc.secret, 0); err == nil || ok {
				t.Fatalf("accepted: ok=%v err=%v", ok, err)
			}
		})
	}

	// A signed event of another type is ignored, not refused.
	other := []byte(`{"id":"evt_x","object":"event","api_version":"2019-01-01","created":1,"type":"customer.created","data":{"object":{"id":"cus_9","object":"customer"}}}`)
	if ev, ok, err := ParseWebhook(other, sign(other, testWebhookSecret, now), testWebhookSecret, 0); err != nil || ok || ev.Type != "customer.created" {
		t.Fatalf("other type: %+v ok=%v %v", ev, ok, err)
	}
	// A refund event whose object is no refund is refused.
	bad := []byte(`{"id":"evt_y","object":"event","created":1,"type":"refund.failed","data":{"object":{"id":"ch_1","object":"charge"}}}`)
	if _, ok, err := ParseWebhook(bad, sign(bad, testWebhookSecret, now), testWebhookSecret, 0); err == nil || ok {
		t.Fatalf("a charge passed for a refund: ok=%v", ok)
	}
	// An expanded charge carries the customer.
	expanded := []byte(`{"id":"evt_z","object":"event","created":1,"type":"refund.updated","data":{"object":{"id":"re_2","object":"refund","status":"canceled","charge":{"id":"ch_2","object":"charge","customer":"cus_2"}}}}`)
	ev, ok, err = ParseWebhook(expanded, sign(expanded, testWebhookSecret, now), testWebhookSecret, 0)
	if err != nil || !ok || ev.CustomerID != "cus_2" || ev.ChargeID != "ch_2" || ev.Status != reconcile.RefundCanceled {
		t.Fatalf("expanded charge: %+v ok=%v %v", ev, ok, err)
	}
}

func TestRefundCustomer(t *testing.T) {
	f, srv := fake(t)
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_1", Customer: "cus_1", PaymentIntent: "pi_1", Amount: 5000, Created: day0}))
	must(t, f.AddCharge(fakestripe.Charge{ID: "ch_anon", Amount: 700, Created: day0}))
	must(t, f.AddRefund(fakestripe.Refund{ID: "re_1", Charge: "ch_1", Amount: 5000, Created: day0.Add(time.Hour)}))
	s, _ := testGateway(t, srv.URL, nil)
	ctx := context.Background()

	tests := []struct {
		name  string
		ev    reconcile.RefundEvent
		want  string
		path  string // the one Stripe request expected, "" for none
		error error
	}{
		{"carried by the event", reconcile.RefundEvent{RefundID: "re_1", ChargeID: "ch_1", CustomerID: "cus_9"}, "cus_9", "", nil},
		{"through the charge", reconcile.RefundEvent{RefundID: "re_1", ChargeID: "ch_1"}, "cus_1", "/v1/charges/ch_1", nil},
		{"through the refund", reconcile.RefundEvent{RefundID: "re_1"}, "cus_1", "/v1/refunds/re_1", nil},
		{"charge without customer", reconcile.RefundEvent{RefundID: "re_x", ChargeID: "ch_anon"}, "", "/v1/charges/ch_anon", nil},
		{"unknown charge", reconcile.RefundEvent{RefundID: "re_x", ChargeID: "ch_nope"}, "", "/v1/charges/ch_nope", reconcile.ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f.ResetRequests()
			got, err := s.RefundCustomer(ctx, tc.ev)
			if got != tc.want || !errors.Is(err, tc.error) || (tc.error == nil && err != nil) {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.error)
			}
			reqs := f.Requests()
			if tc.path == "" && len(reqs) != 0 || tc.path != "" && (len(reqs) != 1 || reqs[0].Path != tc.path) {
				t.Fatalf("requests %+v, want one to %q", reqs, tc.path)
			}
		})
	}
}
