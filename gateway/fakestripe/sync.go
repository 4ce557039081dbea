package fakestripe

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strings"
	"time"

	"golang.org/x/time/rate"
)

// What an incremental sync needs of the fake: events that can be turned off
// (a late failure then shows only through its balance transaction),
// metadata that changes, Stripe's rate limits and request counts.

// SetEvents turns events on or off (on by default). While off, changes
// create no event at all: a failure is seen only through its
// refund_failure balance transaction.
func (s *Server) SetEvents(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.eventsOff = !on
}

// SetCreateEvents makes AddRefund create a refund.created event (off by
// default, so that loading a million refunds stays light).
func (s *Server) SetCreateEvents(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.createEvents = on
}

// addRefundEvents creates events of the given types at ts carrying the
// refund as it is now; prev is their previous_attributes JSON (nil: none).
func (s *Server) addRefundEvents(e int32, ts int64, prev []byte, types ...string) {
	if s.eventsOff {
		return
	}
	obj := s.appendRefund(nil, e, nil)
	for _, typ := range types {
		n := int32(len(s.events))
		s.events = append(s.events, event{created: ts, typ: typ, object: obj, prev: prev})
		s.eventTL.add(n)
	}
}

// SetRefundMetadata replaces a refund's metadata at time `at` (zero: now)
// and creates the events charge.refund.updated and refund.updated, whose
// previous_attributes.metadata is the old metadata.
func (s *Server) SetRefundMetadata(id string, md map[string]string, at time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.refundIndex(id)
	if e == noElem {
		return fmt.Errorf("fakestripe: no such refund %s", id)
	}
	for k, v := range md {
		if err := checkStr("metadata", k+v); err != nil {
			return err
		}
	}
	r := &s.refunds[e]
	old := map[string]string{}
	if r.meta != 0 {
		old = s.metas[r.meta]
	}
	prev, err := json.Marshal(map[string]any{"metadata": old})
	if err != nil {
		return err
	}
	r.meta = 0
	if len(md) > 0 {
		r.meta = int32(len(s.metas))
		s.metas = append(s.metas, maps.Clone(md))
	}
	s.addRefundEvents(e, unix(at), prev, "charge.refund.updated", "refund.updated")
	return nil
}

// RateLimit models Stripe's read limits: requests a second per endpoint
// (the first path segment after /v1: refunds, charges, events…) and for the
// whole account. Zero means no limit. Each bucket holds one second of
// requests.
type RateLimit struct {
	PerEndpoint, Global float64
}

// StripeLiveLimits are Stripe's live-mode read limits.
var StripeLiveLimits = RateLimit{PerEndpoint: 25, Global: 100}

type limits struct {
	cfg      RateLimit
	now      func() time.Time
	global   *rate.Limiter
	endpoint map[string]*rate.Limiter
}

// LimitRate answers 429 with Stripe's rate_limit error body to requests
// beyond l; now is the clock the buckets read (nil: time.Now). A zero l
// removes the limits.
func (s *Server) LimitRate(l RateLimit, now func() time.Time) {
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	if l == (RateLimit{}) {
		s.limits = nil
		return
	}
	if now == nil {
		now = time.Now
	}
	s.limits = &limits{cfg: l, now: now, endpoint: map[string]*rate.Limiter{}}
	if l.Global > 0 {
		s.limits.global = rate.NewLimiter(rate.Limit(l.Global), max(1, int(l.Global)))
	}
}

// limited takes a token for the request's endpoint and the account; false
// when either bucket is empty (no token is then taken).
func (s *Server) limited(path string) bool {
	s.limitMu.Lock()
	defer s.limitMu.Unlock()
	l := s.limits
	if l == nil {
		return false
	}
	now := l.now()
	var ep *rate.Limiter
	if l.cfg.PerEndpoint > 0 {
		name := endpoint(path)
		if ep = l.endpoint[name]; ep == nil {
			ep = rate.NewLimiter(rate.Limit(l.cfg.PerEndpoint), max(1, int(l.cfg.PerEndpoint)))
			l.endpoint[name] = ep
		}
		if ep.TokensAt(now) < 1 {
			return true
		}
	}
	if l.global != nil && !l.global.AllowN(now, 1) {
		return true
	}
	if ep != nil {
		ep.AllowN(now, 1)
	}
	return false
}

// endpoint is the first path segment after /v1/.
func endpoint(path string) string {
	rest, _ := strings.CutPrefix(path, "/v1/")
	name, _, _ := strings.Cut(rest, "/")
	return name
}

// rateLimited answers a request over the limits, as Stripe does.
func rateLimited(w http.ResponseWriter) {
	writeError(w, &apiError{status: http.StatusTooManyRequests, typ: errInvalidRequest, code: "rate_limit",
		message: "Request rate limit exceeded. You can learn more about rate limits here https://stripe.com/docs/rate-limits."})
}

// RequestCounts counts the requests logged since New or ResetRequests by
// endpoint: "GET /v1/refunds" for a listing, "GET /v1/refunds/:id" for a
// retrieval.
func (s *Server) RequestCounts() map[string]int {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := map[string]int{}
	for _, r := range s.reqs {
		key := r.Method + " /v1/" + endpoint(r.Path)
		if strings.Count(strings.TrimPrefix(r.Path, "/v1/"), "/") > 0 {
			key += "/:id"
		}
		out[key]++
	}
	return out
}
