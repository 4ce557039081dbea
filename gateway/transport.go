package gateway

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// errReadOnly is what the transport answers to any method but GET: the
// adapter only reads, so a write would be a bug, never a request to Stripe.
var errReadOnly = errors.New("the stripe gateway is read-only")

// Retry policy defaults. The backoff doubles from baseBackoff up to
// maxBackoff, with jitter; a Retry-After header wins, up to maxRetryAfter.
const (
	baseBackoff   = 500 * time.Millisecond
	maxBackoff    = 20 * time.Second
	maxRetryAfter = time.Minute
)

// endpoint is the kind of Stripe request, for the counters.
type endpoint int

const (
	endpointOther endpoint = iota
	endpointListRefunds
	endpointRetrieveRefund
	endpointListCharges
	endpointListBalanceTransactions
	numEndpoints
)

// classify names the endpoint of a request path such as /v1/refunds/re_1.
func classify(path string) endpoint {
	i := strings.Index(path, "/v1/")
	if i < 0 {
		return endpointOther
	}
	switch rest := path[i+len("/v1/"):]; {
	case rest == "refunds":
		return endpointListRefunds
	case strings.HasPrefix(rest, "refunds/") && len(rest) > len("refunds/") && !strings.Contains(rest[len("refunds/"):], "/"):
		return endpointRetrieveRefund
	case rest == "charges":
		return endpointListCharges
	case rest == "balance_transactions":
		return endpointListBalanceTransactions
	}
	return endpointOther
}

// counters are the live, concurrency-safe form of Stats.
type counters struct {
	requests      [numEndpoints]atomic.Int64
	attempts      atomic.Int64
	retries       atomic.Int64
	rateLimited   atomic.Int64
	serverErrors  atomic.Int64
	networkErrors atomic.Int64
	timeouts      atomic.Int64
	limiterWait   atomic.Int64 // nanoseconds
	refunds       atomic.Int64
	responses     responseCounts // by endpoint and final status (responses.go)
}

// Stats counts the adapter's work since New, for metrics and benchmarks.
type Stats struct {
	// Requests by endpoint: one per page or look-up stripe-go asks for,
	// however many attempts it took.
	ListRefundsRequests             int64
	RetrieveRefundRequests          int64
	ListChargesRequests             int64
	ListBalanceTransactionsRequests int64
	OtherRequests                   int64
	// Attempts counts HTTP attempts, retries included.
	Attempts int64
	// Retries counts attempts made again after a retryable failure.
	Retries int64
	// RateLimited counts 429 answers.
	RateLimited int64
	// ServerErrors counts 500, 502, 503 and 504 answers.
	ServerErrors int64
	// NetworkErrors counts attempts that got no answer, Timeouts included.
	NetworkErrors int64
	// Timeouts counts attempts that took longer than Config.RequestTimeout.
	Timeouts int64
	// LimiterWait is the time spent waiting on the shared rate limiter, all
	// workers added up.
	LimiterWait time.Duration
	// RefundsDecoded counts Stripe refunds converted to reconcile's type.
	RefundsDecoded int64
}

// Requests returns the number of requests of every endpoint.
func (s Stats) Requests() int64 {
	return s.ListRefundsRequests + s.RetrieveRefundRequests + s.ListChargesRequests +
		s.ListBalanceTransactionsRequests + s.OtherRequests
}

func (c *counters) snapshot() Stats {
	return Stats{
		ListRefundsRequests:             c.requests[endpointListRefunds].Load(),
		RetrieveRefundRequests:          c.requests[endpointRetrieveRefund].Load(),
		ListChargesRequests:             c.requests[endpointListCharges].Load(),
		ListBalanceTransactionsRequests: c.requests[endpointListBalanceTransactions].Load(),
		OtherRequests:                   c.requests[endpointOther].Load(),
		Attempts:                        c.attempts.Load(),
		Retries:                         c.retries.Load(),
		RateLimited:                     c.rateLimited.Load(),
		ServerErrors:                    c.serverErrors.Load(),
		NetworkErrors:                   c.networkErrors.Load(),
		Timeouts:                        c.timeouts.Load(),
		LimiterWait:                     time.Duration(c.limiterWait.Load()),
		RefundsDecoded:                  c.refunds.Load(),
	}
}

// transport sits under stripe-go (whose own retries are off): it refuses
// writes, paces every attempt through one limiter, bounds each attempt with
// its own timeout, and retries what may heal by itself.
type transport struct {
	base        http.RoundTripper
	limiter     *rate.Limiter
	timeout     time.Duration
	maxAttempts int
	// wait says how long to sleep before attempt+1; retryAfter is the
	// server's Retry-After, 0 when absent.
	wait  func(attempt int, retryAfter time.Duration) time.Duration
	stats *counters
	log   *slog.Logger
}

// errAttemptTimeout is deliberately not context.DeadlineExceeded: the
// caller's context did not expire, one attempt did.
type errAttemptTimeout struct{ after time.Duration }

func (e errAttemptTimeout) Error() string {
	return "stripe did not answer within " + e.after.String()
}

// RoundTrip implements http.RoundTripper.
func (t *transport) RoundTrip(req *http.Request) (resp *http.Response, err error) {
	// A RoundTripper must close the body, even on error. A GET carries none
	// worth sending (stripe-go puts the parameters in the query).
	if req.Body != nil {
		req.Body.Close()
	}
	if req.Method != http.MethodGet {
		return nil, fmt.Errorf("%w: refused %s %s", errReadOnly, req.Method, req.URL.Path)
	}
	ctx := req.Context()
	ep := classify(req.URL.EscapedPath())
	t.stats.requests[ep].Add(1)
	defer func() { t.stats.responses.count(ep, resp, err) }()
	for attempt := 1; ; attempt++ {
		if err := t.waitLimiter(ctx); err != nil {
			return nil, err
		}
		t.stats.attempts.Add(1)
		resp, err := t.attempt(ctx, req)
		if ctx.Err() != nil {
			// The caller gave up: stop now, whatever the attempt got.
			return nil, ctx.Err()
		}
		retry, retryAfter := t.retryable(resp, err)
		if !retry {
			return resp, err
		}
		if attempt >= t.maxAttempts {
			if err != nil {
				return nil, fmt.Errorf("gave up after %d attempts: %w", attempt, err)
			}
			if notStripe(resp) {
				// Not Stripe's answer (a proxy's page): the request failed,
				// whatever its status says; it never means "not found".
				return nil, fmt.Errorf("gave up after %d attempts: %w", attempt, errNotStripe{resp.Status})
			}
			return resp, nil // stripe-go turns the last answer into its error
		}
		d := t.wait(attempt, retryAfter)
		t.stats.retries.Add(1)
		attrs := []slog.Attr{
			slog.String("path", req.URL.Path),
			slog.Int("attempt", attempt),
			slog.Duration("wait", d),
		}
		if resp != nil {
			attrs = append(attrs, slog.Int("status", resp.StatusCode))
		} else {
			attrs = append(attrs, slog.String("error", err.Error()))
		}
		t.log.LogAttrs(ctx, slog.LevelWarn, "stripe request retried", attrs...)
		if err := sleep(ctx, d); err != nil {
			return nil, err
		}
	}
}

func (t *transport) waitLimiter(ctx context.Context) error {
	start := time.Now()
	err := t.limiter.Wait(ctx)
	t.stats.limiterWait.Add(int64(time.Since(start)))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		// The deadline would pass before a token is free.
		return fmt.Errorf("wait for the stripe rate limit: %w", err)
	}
	return nil
}

// attempt makes one request under its own timeout and reads the whole body
// inside it, so a stalled or truncated body counts against the attempt (and
// is retried) rather than surfacing later in stripe-go's decoder.
func (t *transport) attempt(ctx context.Context, req *http.Request) (*http.Response, error) {
	actx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	r := req.WithContext(actx)
	r.Body, r.GetBody, r.ContentLength = nil, nil, 0
	resp, err := t.base.RoundTrip(r)
	if err == nil {
		var body []byte
		body, err = readBody(resp)
		if err == nil {
			if resp.StatusCode >= 400 && !isStripeError(body) {
				body = stripeError(resp.Status)
				resp.Header.Set(notStripeHeader, "1")
			}
			resp.Body = io.NopCloser(bytes.NewReader(body))
			resp.ContentLength = int64(len(body))
			resp.Request = req
			return resp, nil
		}
	}
	if ctx.Err() == nil && actx.Err() != nil {
		t.stats.timeouts.Add(1)
		return nil, errAttemptTimeout{t.timeout}
	}
	return nil, err
}

func readBody(resp *http.Response) ([]byte, error) {
	defer resp.Body.Close()
	if n := resp.ContentLength; n > 0 && n <= 64<<20 {
		buf := bytes.NewBuffer(make([]byte, 0, n+1))
		_, err := buf.ReadFrom(resp.Body)
		return buf.Bytes(), err
	}
	return io.ReadAll(resp.Body)
}

// isStripeError reports whether an error answer's body is Stripe's
// {"error": {…}}.
func isStripeError(body []byte) bool {
	var v struct {
		Error *struct{} `json:"error"`
	}
	return json.Unmarshal(body, &v) == nil && v.Error != nil
}

// notStripeHeader marks, on an answer the transport hands to stripe-go, an
// error answer whose body was not Stripe's: only Stripe's own error body
// means what it says (a 404 from Stripe: no such refund; a 404 page from a
// proxy: nothing at all).
const notStripeHeader = "Refundrecon-Not-Stripe"

// notStripe reports whether the transport marked resp as not Stripe's.
func notStripe(resp *http.Response) bool {
	return resp != nil && resp.Header.Get(notStripeHeader) != ""
}

// errNotStripe is a request that got only answers that are not Stripe's.
type errNotStripe struct{ status string }

func (e errNotStripe) Error() string {
	return "answered HTTP " + e.status + " without a Stripe error body"
}

// stripeError is the body put in place of an error answer that is not
// Stripe's (a proxy's HTML 502, a bare 401), so that stripe-go still builds a
// *stripe.Error carrying the status, which the adapter maps, instead of an
// untyped error quoting whatever the body was.
func stripeError(status string) []byte {
	b, _ := json.Marshal(map[string]map[string]string{"error": {
		"type":    "api_error",
		"message": "HTTP " + status + " without a Stripe error body",
	}})
	return b
}

// retryable decides whether an attempt's outcome may heal by itself, and
// returns the server's Retry-After if it sent one.
func (t *transport) retryable(resp *http.Response, err error) (bool, time.Duration) {
	if err != nil {
		t.stats.networkErrors.Add(1)
		return !permanent(err), 0
	}
	switch resp.StatusCode {
	case http.StatusUnauthorized, http.StatusForbidden:
		// A refused key does not heal by itself, whoever says so.
		return false, 0
	case http.StatusTooManyRequests:
		// Stripe's rate_limit; stripe-go does not retry it.
		t.stats.rateLimited.Add(1)
		return true, retryAfter(resp.Header)
	case http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		t.stats.serverErrors.Add(1)
		return true, retryAfter(resp.Header)
	}
	// An error answer that is not Stripe's (a proxy's HTML 404) is a failed
	// request, retried as a 5xx is. Stripe marks some other answers (409
	// lock_timeout) as worth retrying.
	if resp.StatusCode >= 400 && (notStripe(resp) || resp.Header.Get("Stripe-Should-Retry") == "true") {
		return true, retryAfter(resp.Header)
	}
	return false, 0
}

// permanent reports network errors that a retry cannot fix.
func permanent(err error) bool {
	var verr *tls.CertificateVerificationError
	var uerr x509.UnknownAuthorityError
	var herr x509.HostnameError
	var cerr x509.CertificateInvalidError
	return errors.Is(err, errReadOnly) || errors.As(err, &verr) || errors.As(err, &uerr) ||
		errors.As(err, &herr) || errors.As(err, &cerr)
}

// retryAfter reads Retry-After in seconds (or as an HTTP date); 0 when absent
// or unreadable.
func retryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if !(s > 0) { // negative, zero or NaN
			return 0
		}
		if s > maxRetryAfter.Seconds() {
			return maxRetryAfter
		}
		return time.Duration(s * float64(time.Second))
	}
	if at, err := http.ParseTime(v); err == nil {
		return min(max(time.Until(at), 0), maxRetryAfter)
	}
	return 0
}

// defaultWait is exponential backoff with jitter (half fixed, half random,
// so workers that failed together do not retry together); a Retry-After is
// honoured, with up to a tenth more to spread the workers.
func defaultWait(attempt int, retryAfter time.Duration) time.Duration {
	if retryAfter > 0 {
		return retryAfter + rand.N(retryAfter/10+1)
	}
	d := maxBackoff
	if attempt < 16 {
		d = min(baseBackoff<<(attempt-1), maxBackoff)
	}
	return d/2 + rand.N(d/2+1)
}

// sleep waits d, or returns ctx.Err() as soon as ctx is done.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-timer.C:
		return nil
	}
}
