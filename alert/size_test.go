package alert_test

import (
	"encoding/json"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/refundrecon/refundrecon/alert"
)

// TestPayloadsStayUnderPagerDutysLimit: a case holding megabytes (one
// recorded before values were bounded) never makes an event PagerDuty
// refuses (over 512 KB), nor a megabyte webhook or Slack message: every
// channel sends it cut, as valid UTF-8 JSON.
func TestPayloadsStayUnderPagerDutysLimit(t *testing.T) {
	d := failed()
	d.Detail = strings.Repeat("é", 1<<20) // 2 MiB
	d.CustomerID = "cus_" + strings.Repeat("k", 3000)
	d.LedgerRefundID = strings.Repeat("lr", 1<<19)
	d.Currency = strings.Repeat("€", 1<<19)
	for i := range 500 {
		d.GatewayRefundIDs = append(d.GatewayRefundIDs, "re_"+strings.Repeat("x", 600)+string(rune('a'+i%26)))
	}
	orig := append([]string(nil), d.GatewayRefundIDs...)
	r := newReceiver(t, 202)
	channels := []alert.Channel{
		&alert.PagerDuty{URL: r.srv.URL + "/v2/enqueue", RoutingKey: "R0UT1NGKEY0000000000000000000000", Rules: alert.Rules{}},
		&alert.Webhook{URL: r.srv.URL + "/hook", Secret: "whk_s3cret_for_tests", Now: clock},
		&alert.Slack{URL: r.srv.URL + "/slack", Rules: alert.Rules{}},
	}
	for _, ch := range channels {
		send(t, ch, opened(d))
	}
	got := r.requests()
	if len(got) != len(channels) {
		t.Fatalf("%d requests, want %d", len(got), len(channels))
	}
	for i, req := range got {
		if n := len(req.body); n > 64<<10 {
			t.Errorf("%s: body of %d bytes", channels[i].Name(), n)
		}
		if !utf8.Valid(req.body) || !json.Valid(req.body) {
			t.Errorf("%s: body is not valid UTF-8 JSON", channels[i].Name())
		}
	}
	var ev struct {
		Payload struct {
			Summary       string `json:"summary"`
			CustomDetails struct {
				Discrepancy struct {
					Detail string `json:"detail"`
				} `json:"discrepancy"`
			} `json:"custom_details"`
		} `json:"payload"`
	}
	if err := json.Unmarshal(got[0].body, &ev); err != nil {
		t.Fatal(err)
	}
	if len(ev.Payload.Summary) > 1024 || !strings.HasPrefix(ev.Payload.CustomDetails.Discrepancy.Detail, "éé") {
		t.Errorf("summary %d bytes, detail starts %.20q", len(ev.Payload.Summary), ev.Payload.CustomDetails.Discrepancy.Detail)
	}
	for i := range orig {
		if d.GatewayRefundIDs[i] != orig[i] {
			t.Fatalf("the caller's case was changed")
		}
	}
}
