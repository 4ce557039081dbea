package gateway

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/stripe/stripe-go/v76"
	"github.com/stripe/stripe-go/v76/client"
	"github.com/stripe/stripe-go/v76/form"
	"golang.org/x/time/rate"
)

// The defaults of Config's zero fields.
const (
	DefaultURL            = "https://api.stripe.com"
	DefaultMetadataKey    = "ledger_refund_id"
	DefaultMaxRPS         = 20
	DefaultConcurrency    = 4
	DefaultRequestTimeout = 30 * time.Second
	DefaultMaxAttempts    = 6
	// MaxConcurrency caps Config.Concurrency.
	MaxConcurrency = 64
)

// pageSize is Stripe's largest page.
const pageSize = 100

// Config configures the Stripe adapter. Zero fields take the defaults above.
type Config struct {
	// APIKey is a secret (sk_…) or restricted (rk_…) key; it is never
	// printed, logged or put in an error.
	APIKey string
	// URL is the base URL of the Stripe API (STRIPE_API_URL).
	URL string
	// MetadataKey is the refund metadata key that may hold the ledger refund
	// id (STRIPE_METADATA_KEY).
	MetadataKey string
	// MaxRPS caps the requests per second, all workers and retries together
	// (STRIPE_MAX_RPS).
	MaxRPS float64
	// Concurrency is the number of created-time slices Refunds lists at
	// once; at most MaxConcurrency.
	Concurrency int
	// RequestTimeout bounds each attempt, reading the body included.
	RequestTimeout time.Duration
	// MaxAttempts bounds the attempts of one request, the first included.
	MaxAttempts int
	// HTTPClient, when set, supplies the transport each attempt uses (nil:
	// a clone of http.DefaultTransport), its redirect policy and its cookie
	// jar. Its Timeout, if any, bounds a whole request, retries included.
	HTTPClient *http.Client
	// Logger receives stripe-go's lines and the retries; nil discards them.
	Logger *slog.Logger

	// retryWait replaces defaultWait; tests shorten the backoff with it.
	retryWait func(attempt int, retryAfter time.Duration) time.Duration
}

// Stripe reads refunds from Stripe. It is safe for concurrent use.
type Stripe struct {
	api *client.API
	// backend is api's, for the refund listings (see eachRefund).
	backend     *stripe.BackendImplementation
	key         string // only to redact it
	metadataKey string
	concurrency int
	stats       *counters
	log         *slog.Logger
}

var _ reconcile.Gateway = (*Stripe)(nil)

// New checks cfg and builds the adapter on its own stripe-go client: no
// package-level key or backend is read or set. A bad configuration is an
// error wrapping reconcile.ErrConfig.
func New(cfg Config) (*Stripe, error) {
	if cfg.APIKey == "" {
		return nil, fmt.Errorf("%w: STRIPE_API_KEY is empty", reconcile.ErrConfig)
	}
	if !strings.HasPrefix(cfg.APIKey, "sk_") && !strings.HasPrefix(cfg.APIKey, "rk_") ||
		strings.ContainsFunc(cfg.APIKey, func(r rune) bool { return r <= ' ' || r > '~' }) {
		return nil, fmt.Errorf("%w: STRIPE_API_KEY is not a secret (sk_…) or restricted (rk_…) key", reconcile.ErrConfig)
	}
	base, err := apiURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if cfg.MetadataKey == "" {
		cfg.MetadataKey = DefaultMetadataKey
	}
	switch {
	case cfg.MaxRPS == 0:
		cfg.MaxRPS = DefaultMaxRPS
	case !(cfg.MaxRPS > 0) || math.IsInf(cfg.MaxRPS, 1):
		return nil, fmt.Errorf("%w: STRIPE_MAX_RPS %v is not a positive number", reconcile.ErrConfig, cfg.MaxRPS)
	}
	switch {
	case cfg.Concurrency == 0:
		cfg.Concurrency = DefaultConcurrency
	case cfg.Concurrency < 0 || cfg.Concurrency > MaxConcurrency:
		return nil, fmt.Errorf("%w: stripe concurrency %d is not between 1 and %d", reconcile.ErrConfig, cfg.Concurrency, MaxConcurrency)
	}
	switch {
	case cfg.RequestTimeout == 0:
		cfg.RequestTimeout = DefaultRequestTimeout
	case cfg.RequestTimeout < 0:
		return nil, fmt.Errorf("%w: stripe request timeout %v is negative", reconcile.ErrConfig, cfg.RequestTimeout)
	}
	switch {
	case cfg.MaxAttempts == 0:
		cfg.MaxAttempts = DefaultMaxAttempts
	case cfg.MaxAttempts < 0:
		return nil, fmt.Errorf("%w: stripe max attempts %d is negative", reconcile.ErrConfig, cfg.MaxAttempts)
	}
	if cfg.retryWait == nil {
		cfg.retryWait = defaultWait
	}
	logger := cfg.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}

	s := &Stripe{
		key:         cfg.APIKey,
		metadataKey: cfg.MetadataKey,
		concurrency: cfg.Concurrency,
		stats:       &counters{},
		log:         logger,
	}
	hc := &http.Client{}
	var rt http.RoundTripper
	if cfg.HTTPClient != nil {
		*hc = *cfg.HTTPClient
		rt = cfg.HTTPClient.Transport
	}
	if rt == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConnsPerHost = cfg.Concurrency + 2
		rt = t
	}
	hc.Transport = &transport{
		base:        rt,
		limiter:     rate.NewLimiter(rate.Limit(cfg.MaxRPS), 1),
		timeout:     cfg.RequestTimeout,
		maxAttempts: cfg.MaxAttempts,
		wait:        cfg.retryWait,
		stats:       s.stats,
		log:         logger,
	}
	bc := func(u *string) *stripe.BackendConfig {
		return &stripe.BackendConfig{
			URL:               u,
			HTTPClient:        hc,
			MaxNetworkRetries: stripe.Int64(0), // the transport retries
			EnableTelemetry:   stripe.Bool(false),
			LeveledLogger:     stripeLogger{log: logger, redact: s.redact},
		}
	}
	// Connect and Uploads are never called; they are built here only so that
	// stripe-go never falls back to its package-level backends.
	api := stripe.GetBackendWithConfig(stripe.APIBackend, bc(stripe.String(base)))
	s.backend = api.(*stripe.BackendImplementation)
	s.api = client.New(cfg.APIKey, &stripe.Backends{
		API:     api,
		Connect: stripe.GetBackendWithConfig(stripe.ConnectBackend, bc(stripe.String(base))),
		Uploads: stripe.GetBackendWithConfig(stripe.UploadsBackend, bc(stripe.String(base))),
	})
	return s, nil
}

// apiURL checks STRIPE_API_URL; the error shows it with any password
// redacted.
func apiURL(raw string) (string, error) {
	if raw == "" {
		return DefaultURL, nil
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", fmt.Errorf("%w: STRIPE_API_URL is not a URL", reconcile.ErrConfig)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", fmt.Errorf("%w: STRIPE_API_URL %q is not an http(s) base URL", reconcile.ErrConfig, u.Redacted())
	}
	return strings.TrimSuffix(raw, "/"), nil
}

// Stats returns the counters since New.
func (s *Stripe) Stats() Stats { return s.stats.snapshot() }

// Refunds lists every refund created inside [since, until] (Stripe's created
// is whole seconds: since is floored, until's second included). It splits the
// window into Concurrency created-time slices listed at once, and calls fn
// from the calling goroutine only. The first error stops every slice.
func (s *Stripe) Refunds(ctx context.Context, since, until time.Time, fn func(reconcile.GatewayRefund) error) error {
	const op = "list stripe refunds"
	lo, hi, ok := window(since, until)
	if !ok {
		return nil
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	out := make(chan reconcile.GatewayRefund, 2*pageSize)
	var wg sync.WaitGroup
	for _, sp := range split(lo, hi, s.concurrency) {
		wg.Go(func() {
			p := &stripe.RefundListParams{
				ListParams:   stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)},
				CreatedRange: sp.rangeParams(),
			}
			p.AddExpand("data.charge")
			err := s.eachRefund(p, func(r reconcile.GatewayRefund) error {
				// A server that ignored the created filter would hand every
				// slice the same refunds: refuse rather than deliver twice.
				if !sp.contains(r.Created.Unix()) {
					return fmt.Errorf("stripe answered refund %s created at %d, outside the requested range", r.ID, r.Created.Unix())
				}
				select {
				case out <- r:
					return nil
				case <-ctx.Done():
					return context.Cause(ctx)
				}
			})
			if err != nil {
				cancel(s.fail(op, err))
			}
		})
	}
	go func() {
		wg.Wait()
		close(out)
	}()

	var fnErr error
	for r := range out {
		if fnErr != nil {
			continue // drain until the slices see the cancellation
		}
		if err := fn(r); err != nil {
			fnErr = err
			cancel(err)
		}
	}
	switch {
	case fnErr != nil:
		return fnErr
	case parent.Err() != nil:
		return fmt.Errorf("%s: %w", op, parent.Err())
	}
	return context.Cause(ctx) // nil unless a slice failed
}

// Refund looks one refund up by id, its charge expanded; an error wrapping
// reconcile.ErrNotFound when Stripe has none.
func (s *Stripe) Refund(ctx context.Context, id string) (reconcile.GatewayRefund, error) {
	op := "get stripe refund " + strconv.Quote(id)
	if id == "" {
		return reconcile.GatewayRefund{}, fmt.Errorf("get stripe refund: empty id")
	}
	p := &stripe.RefundParams{Params: stripe.Params{Context: ctx}}
	p.AddExpand("charge")
	r, err := s.api.Refunds.Get(id, p)
	if err != nil {
		return reconcile.GatewayRefund{}, s.fail(op, err)
	}
	g, err := s.convert(r)
	if err != nil {
		return reconcile.GatewayRefund{}, s.fail(op, err)
	}
	return g, nil
}

// ChargeRefunds lists every refund of a charge, whatever its status.
func (s *Stripe) ChargeRefunds(ctx context.Context, chargeID string) ([]reconcile.GatewayRefund, error) {
	op := "list stripe refunds of charge " + strconv.Quote(chargeID)
	if chargeID == "" {
		// An empty filter would list every refund of the account.
		return nil, errors.New("list stripe refunds of charge: empty charge id")
	}
	return s.refundsOf(ctx, op, &stripe.RefundListParams{Charge: stripe.String(chargeID)})
}

// PaymentIntentRefunds lists every refund of a payment intent, whatever its
// status.
func (s *Stripe) PaymentIntentRefunds(ctx context.Context, paymentIntentID string) ([]reconcile.GatewayRefund, error) {
	op := "list stripe refunds of payment intent " + strconv.Quote(paymentIntentID)
	if paymentIntentID == "" {
		return nil, errors.New("list stripe refunds of payment intent: empty payment intent id")
	}
	return s.refundsOf(ctx, op, &stripe.RefundListParams{PaymentIntent: stripe.String(paymentIntentID)})
}

func (s *Stripe) refundsOf(ctx context.Context, op string, p *stripe.RefundListParams) ([]reconcile.GatewayRefund, error) {
	p.Context = ctx
	p.Limit = stripe.Int64(pageSize)
	p.AddExpand("data.charge")
	var rs []reconcile.GatewayRefund
	err := s.eachRefund(p, func(r reconcile.GatewayRefund) error {
		rs = append(rs, r)
		return nil
	})
	if err != nil {
		return nil, s.fail(op, err)
	}
	return rs, nil
}

// RefundFailures lists the refund_failure balance transactions created
// inside [since, until]: the refund each one fails and when.
func (s *Stripe) RefundFailures(ctx context.Context, since, until time.Time, fn func(reconcile.RefundFailure) error) error {
	const op = "list stripe refund failures"
	lo, hi, ok := window(since, until)
	if !ok {
		return nil
	}
	p := &stripe.BalanceTransactionListParams{
		ListParams:   stripe.ListParams{Context: ctx, Limit: stripe.Int64(pageSize)},
		Type:         stripe.String("refund_failure"),
		CreatedRange: &stripe.RangeQueryParams{GreaterThanOrEqual: lo, LesserThanOrEqual: hi},
	}
	var fnErr error
	err := each(s.api.BalanceTransactions.List(p).Iter, "balance transactions",
		func(l stripe.ListContainer) []*stripe.BalanceTransaction {
			return l.(*stripe.BalanceTransactionList).Data
		},
		func(bt *stripe.BalanceTransaction) string { return bt.ID },
		func(bt *stripe.BalanceTransaction) error {
			if bt.Source == nil || bt.Source.ID == "" {
				return fmt.Errorf("balance transaction %s has no source refund", bt.ID)
			}
			if err := fn(reconcile.RefundFailure{RefundID: bt.Source.ID, FailedAt: time.Unix(bt.Created, 0).UTC()}); err != nil {
				fnErr = err
				return err
			}
			return nil
		})
	switch {
	case fnErr != nil:
		return fnErr
	case err != nil:
		return s.fail(op, err)
	}
	return nil
}

// eachRefund walks a refund listing, converting each refund; errors are not
// yet mapped. stripe-go builds each request (the query encoded as its
// iterator encodes it, the headers) and turns an error answer into a
// *stripe.Error; the request goes through the adapter's own client, and the
// page is read by decodeRefundPage (see page.go) instead of stripe-go's
// decoder. The checks are each's: a page without data is malformed, and a
// page that ends on an id an earlier one ended on, or is empty yet has
// more, means the cursor does not advance.
func (s *Stripe) eachRefund(p *stripe.RefundListParams, fn func(reconcile.GatewayRefund) error) error {
	query := &form.Values{}
	form.AppendTo(query, p)
	var body bytes.Buffer
	var page refundPage
	var lastIDs map[string]struct{}
	for {
		if err := s.get(p.Context, "/v1/refunds?"+query.Encode(), &body); err != nil {
			return err
		}
		if err := decodeRefundPage(body.Bytes(), s.metadataKey, &page); err != nil {
			return err
		}
		if page.Data == nil {
			return errors.New("stripe answered a refunds page without data")
		}
		if len(page.Data) == 0 {
			if page.HasMore {
				return errors.New("stripe refunds listing did not advance: an empty page has more")
			}
			return nil
		}
		last := string(page.Data[len(page.Data)-1].ID)
		if _, seen := lastIDs[last]; seen {
			return fmt.Errorf("stripe refunds listing did not advance: page ends again on %s", last)
		}
		if lastIDs == nil {
			lastIDs = make(map[string]struct{})
		}
		lastIDs[last] = struct{}{}
		for i := range page.Data {
			g, err := s.convertPage(&page.Data[i])
			if err != nil {
				return err
			}
			if err := fn(g); err != nil {
				return err
			}
		}
		if !page.HasMore {
			return nil
		}
		query.Set(stripe.StartingAfter, last)
	}
}

// get makes one GET request built by stripe-go and reads a successful
// answer's body into body; an error answer becomes stripe-go's
// *stripe.Error.
func (s *Stripe) get(ctx context.Context, path string, body *bytes.Buffer) error {
	req, err := s.backend.NewRequest(http.MethodGet, path, s.key, "application/x-www-form-urlencoded", &stripe.Params{Context: ctx})
	if err != nil {
		return err
	}
	resp, err := s.backend.HTTPClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body.Reset()
	if _, err := body.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode >= 400 {
		return s.backend.ResponseToError(resp, body.Bytes())
	}
	return nil
}

// each walks a stripe-go listing item by item and checks every page before
// its first item is used: a page without data is malformed (a 200 whose
// body is not a list must never pass for an empty page), and a page that
// ends on an id an earlier page already ended on, or that is empty while
// saying has_more, means the cursor does not advance — stripe-go would
// otherwise loop forever or stop early without a word.
func each[T any](it *stripe.Iter, noun string, data func(stripe.ListContainer) []T, id func(T) string, fn func(T) error) error {
	var page stripe.ListContainer
	var lastIDs map[string]struct{}
	check := func(l stripe.ListContainer) error {
		page = l
		d := data(l)
		if d == nil {
			return fmt.Errorf("stripe answered a %s page without data", noun)
		}
		if len(d) == 0 {
			if l.GetListMeta().HasMore {
				return fmt.Errorf("stripe %s listing did not advance: an empty page has more", noun)
			}
			return nil
		}
		last := id(d[len(d)-1])
		if _, seen := lastIDs[last]; seen {
			return fmt.Errorf("stripe %s listing did not advance: page ends again on %s", noun, last)
		}
		if lastIDs == nil {
			lastIDs = make(map[string]struct{})
		}
		lastIDs[last] = struct{}{}
		return nil
	}
	// Check the first page before Next looks at it: stripe-go's iterator
	// panics on a first page that is empty yet has more.
	if err := it.Err(); err != nil {
		return err
	}
	if err := check(it.List()); err != nil {
		return err
	}
	for it.Next() {
		if l := it.List(); l != page {
			if err := check(l); err != nil {
				return err
			}
		}
		if err := fn(it.Current().(T)); err != nil {
			return err
		}
	}
	if err := it.Err(); err != nil {
		return err
	}
	if l := it.List(); l != page {
		return check(l) // the last page was empty
	}
	return nil
}

// span is one created-time slice of a listing, in Unix seconds: [gte, end),
// or [gte, end] for the last one, so no refund falls in two slices.
type span struct {
	gte, end int64
	last     bool
}

func (sp span) contains(sec int64) bool {
	return sec >= sp.gte && (sec < sp.end || sp.last && sec == sp.end)
}

func (sp span) rangeParams() *stripe.RangeQueryParams {
	if sp.last {
		return &stripe.RangeQueryParams{GreaterThanOrEqual: sp.gte, LesserThanOrEqual: sp.end}
	}
	return &stripe.RangeQueryParams{GreaterThanOrEqual: sp.gte, LesserThan: sp.end}
}

// window turns [since, until] into Stripe's whole seconds: since floored,
// until's second included. A zero since means the whole history. ok is false
// when the window holds no second Stripe can have a refund in.
func window(since, until time.Time) (lo, hi int64, ok bool) {
	lo = max(since.Unix(), 0)
	hi = until.Unix()
	// stripe-go leaves zero bounds out of the query, so hi must be positive.
	return lo, hi, hi >= lo && hi > 0
}

// split cuts [lo, hi] into at most k slices of about equal length.
func split(lo, hi int64, k int) []span {
	n := hi - lo + 1
	if int64(k) > n {
		k = int(n)
	}
	spans := make([]span, k)
	for i := range k {
		spans[i] = span{gte: lo + n*int64(i)/int64(k), end: lo + n*int64(i+1)/int64(k)}
	}
	spans[k-1].end, spans[k-1].last = hi, true
	return spans
}
