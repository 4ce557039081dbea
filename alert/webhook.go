package alert

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// The generic webhook's headers.
const (
	// SignatureHeader carries "t=UNIX_SECONDS,v1=HEX", HEX being
	// hex(HMAC-SHA256(secret, t + "." + body)).
	SignatureHeader = "Refundrecon-Signature"
	// DeliveryHeader carries the alert's idempotency key: the same on every
	// retry of one alert, different for every other alert.
	DeliveryHeader = "Refundrecon-Delivery"
)

// Webhook posts the contract's generic, signed webhook: one JSON body per
// case,
//
//	{"type": "discrepancy.opened" | "discrepancy.resolved", "sent_at": RFC 3339, "discrepancy": {…}}
//
// the discrepancy exactly as in the JSON run report.
type Webhook struct {
	URL string
	// Secret signs every body; it is a secret.
	Secret string
	// Client sends the requests; nil means one that follows no redirect.
	Client *http.Client
	// Now is the clock of sent_at and the signature; nil means time.Now.
	Now func() time.Time
}

var _ Channel = (*Webhook)(nil)

// Name implements Channel.
func (w *Webhook) Name() string { return WebhookName }

type webhookBody struct {
	Type        string                `json:"type"`
	SentAt      string                `json:"sent_at"`
	Discrepancy reconcile.Discrepancy `json:"discrepancy"`
}

// Body returns the JSON body of a, sent at now.
func (w *Webhook) Body(a reconcile.Alert, now time.Time) ([]byte, error) {
	if a.Action == reconcile.AlertRunHeld {
		return heldWebhookBody(a, now)
	}
	if a.Digest || len(a.Discrepancies) != 1 {
		return nil, errors.New("webhook: a delivery is about exactly one case (no digests)")
	}
	return json.Marshal(webhookBody{Type: a.Action.Type(), SentAt: now.UTC().Format(time.RFC3339), Discrepancy: bounded(a.Discrepancies[0])})
}

// Send implements Channel.
func (w *Webhook) Send(ctx context.Context, a reconcile.Alert) error {
	now := time.Now()
	if w.Now != nil {
		now = w.Now()
	}
	body, err := w.Body(a, now)
	if err != nil {
		return err
	}
	h := http.Header{}
	h.Set(SignatureHeader, Sign(w.Secret, now, body))
	h.Set(DeliveryHeader, a.Key)
	return post(ctx, w.Client, w.URL, body, h, w.Secret)
}

// Sign returns the Refundrecon-Signature header of body sent at t.
func Sign(secret string, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return m.Sum(nil)
}

// ErrSignature is a Refundrecon-Signature that does not verify.
var ErrSignature = errors.New("invalid Refundrecon-Signature")

// VerifySignature checks a Refundrecon-Signature header against body and
// secret, for receivers: one of its v1 values must be the HMAC of
// t + "." + body, and, when tolerance is positive, t must be within
// tolerance of now (a replayed old delivery fails). Errors wrap
// ErrSignature.
func VerifySignature(secret string, header string, body []byte, tolerance time.Duration, now time.Time) error {
	var ts string
	var sigs [][]byte
	for _, part := range strings.Split(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	if ts == "" || len(sigs) == 0 {
		return fmt.Errorf("%w: want t=UNIX_SECONDS,v1=HEX", ErrSignature)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: t=%q is not a Unix time", ErrSignature, ts)
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return fmt.Errorf("%w: signed %s from now, beyond the tolerance of %s", ErrSignature, d.Round(time.Second), tolerance)
		}
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			return nil
		}
	}
	return fmt.Errorf("%w: no v1 signature matches", ErrSignature)
}
