package gateway

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
)

// fail maps an error from stripe-go once, at the boundary: 401 and 403 wrap
// reconcile.ErrUnauthorized, 404 wraps reconcile.ErrNotFound, and any other
// Stripe answer becomes plain text, so *stripe.Error never leaves the
// package. Only Stripe's own error body is Stripe's answer: a 404 page from
// a proxy is a failed request (see transport.go). Other errors (context, network) stay wrapped for errors.Is. The
// API key is cut out of every message.
func (s *Stripe) fail(op string, err error) error {
	var se *stripe.Error
	if errors.As(err, &se) {
		detail := "stripe answered " + strconv.Itoa(se.HTTPStatusCode)
		if se.Type != "" {
			detail += " " + string(se.Type)
		}
		if se.Code != "" {
			detail += "/" + string(se.Code)
		}
		if se.RequestID != "" {
			detail += ", request " + se.RequestID
		}
		// An answer the transport marked as not Stripe's is a failed
		// request, never "not found" (it gives up on those itself; this
		// guards any other path).
		notStripe := se.LastResponse != nil && se.LastResponse.Header.Get(notStripeHeader) != ""
		switch {
		case se.HTTPStatusCode == 401 || se.HTTPStatusCode == 403:
			// Stripe's message quotes part of the key: leave it out.
			return fmt.Errorf("%s: %w (%s)", op, reconcile.ErrUnauthorized, detail)
		case se.HTTPStatusCode == 404 && !notStripe:
			return fmt.Errorf("%s: %w (%s: %s)", op, reconcile.ErrNotFound, detail, s.redact(se.Msg))
		}
		return fmt.Errorf("%s: %s: %s", op, detail, s.redact(se.Msg))
	}
	// http.Client's *url.Error repeats the whole request URL; the operation
	// already says what was asked.
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		err = ue.Err
	}
	return &mappedError{msg: op + ": " + s.redact(err.Error()), err: err}
}

// mappedError is an error whose text is redacted but whose chain still
// answers errors.Is(err, context.Canceled).
type mappedError struct {
	msg string
	err error
}

func (e *mappedError) Error() string { return e.msg }
func (e *mappedError) Unwrap() error { return e.err }

// redact cuts the API key out of text that may quote it.
func (s *Stripe) redact(text string) string {
	if s.key == "" || !strings.Contains(text, s.key) {
		return text
	}
	return strings.ReplaceAll(text, s.key, "[redacted]")
}
