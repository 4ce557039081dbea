package gateway

import (
	"testing"
	"time"

	"github.com/stripe/stripe-go/v76/webhook"
)

// FuzzParseWebhook: whatever body and signature header arrive, ParseWebhook
// never panics, and it accepts a body only when it was signed with the
// secret: a fuzzed header over a fuzzed body is always refused.
func FuzzParseWebhook(f *testing.F) {
	const secret = "whsec_fuzz_secret_0123456789"
	event := []byte(`{"id":"evt_1","object":"event","type":"charge.refund.updated","api_version":"2023-10-16","created":1,` +
		`"data":{"object":{"id":"re_1","object":"refund","charge":"ch_1","status":"failed","amount":100,"currency":"usd"}}}`)
	f.Add(event, "t=1,v1=deadbeef", false)
	f.Add(event, "", true)
	f.Add([]byte(`{"type":"refund.updated","data":{"object":null}}`), "", true)
	f.Add([]byte("not json"), "t=abc,v1=", false)
	f.Fuzz(func(t *testing.T, body []byte, header string, sign bool) {
		if sign {
			header = webhook.GenerateTestSignedPayload(&webhook.UnsignedPayload{
				Payload: body, Secret: secret, Timestamp: time.Now()}).Header
		}
		ev, ok, err := ParseWebhook(body, header, secret, WebhookTolerance)
		if !sign && err == nil {
			t.Fatalf("an unsigned body was accepted: ok=%v event=%+v header=%q", ok, ev, header)
		}
		if err != nil && ok {
			t.Fatal("ok together with an error")
		}
	})
}
