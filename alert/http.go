package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SendError is a delivery that failed: a transport error or an answer other
// than 2xx. Its text holds no secret.
type SendError struct {
	// StatusCode is the receiver's answer; 0 when there was none.
	StatusCode int
	// RetryAfter is the receiver's Retry-After; 0 when it sent none.
	RetryAfter time.Duration
	msg        string
	err        error
}

func (e *SendError) Error() string { return e.msg }

// Unwrap returns context.Canceled or context.DeadlineExceeded when the send
// was cut short, so callers can tell a shutdown or timeout.
func (e *SendError) Unwrap() error { return e.err }

// RedactURL returns rawURL as scheme and host only (plus "/…" when it had
// more), for logs and errors: a Slack incoming webhook's path is its secret,
// and any URL may carry credentials.
func RedactURL(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return "(unparsable URL)"
	}
	s := u.Scheme + "://" + u.Host
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" {
		s += "/…"
	}
	return s
}

// newClient returns an HTTP client that follows no redirect: a redirect
// would send the alert, and its secrets, somewhere not configured.
func newClient() *http.Client {
	return &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// post sends body as JSON to rawURL, with header, under ctx. Any error is
// a *SendError whose text names the URL redacted and holds none of secrets.
func post(ctx context.Context, client *http.Client, rawURL string, body []byte, header http.Header, secrets ...string) error {
	if client == nil {
		client = newClient()
	}
	where := RedactURL(rawURL)
	secrets = append(secrets, rawURL)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		// The parse error quotes the URL: say only that it is bad.
		return &SendError{msg: "post to " + where + ": invalid URL"}
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "refundrecon")
	resp, err := client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err // its text quotes the whole URL
		}
		e := &SendError{msg: "post to " + where + ": " + scrub(err.Error(), secrets)}
		switch {
		case errors.Is(err, context.Canceled):
			e.err = context.Canceled
		case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
			e.err = context.DeadlineExceeded
		}
		return e
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16)) // let the connection be reused
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return nil
	}
	msg := fmt.Sprintf("post to %s: %s", where, resp.Status)
	if s := strings.TrimSpace(scrub(string(snippet), secrets)); s != "" {
		msg += ": " + strings.ToValidUTF8(clean(s), "?")
	}
	return &SendError{
		StatusCode: resp.StatusCode,
		RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now()),
		msg:        msg,
	}
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// scrub replaces every secret in s.
func scrub(s string, secrets []string) string {
	for _, secret := range secrets {
		if len(secret) >= 4 {
			s = strings.ReplaceAll(s, secret, "[redacted]")
		}
	}
	return s
}
