package fakestripe

import (
	"encoding/base64"
	"net/http"
	"net/url"
	"path"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Request is one request seen by the Server, as recorded by Requests.
type Request struct {
	// Method is the HTTP method.
	Method string
	// Path is the URL path, e.g. "/v1/refunds".
	Path string
	// Query is the decoded query string.
	Query url.Values
	// Status is the HTTP status answered; 499 when the client went away
	// during an injected delay, 0 while the request is still in flight.
	Status int
}

// Fault is an injected misbehaviour. Faults are queued by InjectFault; each
// request consumes one use of the first queued fault whose PathPrefix
// matches its path, before authentication and routing.
type Fault struct {
	// PathPrefix selects the requests the fault applies to: those whose path
	// starts with it ("" = all).
	PathPrefix string
	// Count is how many matching requests the fault applies to (0 = 1).
	Count int
	// Status is the HTTP status to answer, e.g. 429, 500, 502, 503, with a
	// Stripe-style error body unless Body is set; 0 = the normal answer.
	Status int
	// RetryAfter is the value of the Retry-After header, "" = none.
	RetryAfter string
	// Body is a raw body (possibly malformed or truncated JSON) sent instead
	// of the normal one, with Status or else 200.
	Body string
	// Delay is slept before answering; a request whose context is canceled
	// meanwhile gets no answer (logged with status 499).
	Delay time.Duration
	// HTML makes the answer a proxy's HTML page (Content-Type text/html)
	// with Status (default 502) instead of Stripe's JSON error: a proxy's
	// 404 or a gateway timeout page, which is not Stripe's answer.
	HTML bool
	// RepeatCursor makes list answers ignore starting_after/ending_before
	// and always return the first page with has_more=true.
	RepeatCursor bool
}

// InjectFault queues a fault. Faults are consumed in order by matching
// requests.
func (s *Server) InjectFault(f Fault) {
	if f.Count <= 0 {
		f.Count = 1
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.faults = append(s.faults, f)
}

// ClearFaults drops every queued fault.
func (s *Server) ClearFaults() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.faults = nil
}

// Requests returns a copy of every request seen since New or the last
// ResetRequests, in arrival order.
func (s *Server) Requests() []Request {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	out := make([]Request, len(s.reqs))
	for i, r := range s.reqs {
		r.Query = cloneValues(r.Query)
		out[i] = r
	}
	return out
}

// ResetRequests empties the request log.
func (s *Server) ResetRequests() {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.reqs = nil
	s.logGen++
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v))
	for k, vs := range v {
		out[k] = slices.Clone(vs)
	}
	return out
}

// logStart records the request and takes the fault applying to it, if any.
// It returns the log position and generation (for logEnd), the request
// number and the fault.
func (s *Server) logStart(r *http.Request) (pos int, gen, reqID uint64, f Fault, ok bool) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	s.reqSeq++
	s.reqs = append(s.reqs, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.Query()})
	for i := range s.faults {
		if strings.HasPrefix(r.URL.Path, s.faults[i].PathPrefix) {
			f, ok = s.faults[i], true
			s.faults[i].Count--
			if s.faults[i].Count <= 0 {
				s.faults = slices.Delete(s.faults, i, i+1)
			}
			break
		}
	}
	return len(s.reqs) - 1, s.logGen, s.reqSeq, f, ok
}

func (s *Server) logEnd(pos int, gen uint64, status int) {
	s.logMu.Lock()
	defer s.logMu.Unlock()
	// The log may have been reset while the request was in flight.
	if gen == s.logGen && pos < len(s.reqs) {
		s.reqs[pos].Status = status
	}
}

// statusWriter records the answered status in the request log before the
// status line reaches the client, so a client that has seen an answer also
// sees it in Requests.
type statusWriter struct {
	http.ResponseWriter
	status int
	record func(int)
}

func (w *statusWriter) setStatus(code int) {
	if w.status == 0 {
		w.status = code
		w.record(code)
	}
}

func (w *statusWriter) WriteHeader(code int) {
	w.setStatus(code)
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(p []byte) (int, error) {
	w.setStatus(http.StatusOK)
	return w.ResponseWriter.Write(p)
}

// Error types and codes of Stripe error bodies.
const (
	errInvalidRequest = "invalid_request_error"
	errAPI            = "api_error"
	codeMissing       = "resource_missing"
)

// apiError is a Stripe error answer.
type apiError struct {
	status                    int
	typ, code, param, message string
}

func (e *apiError) body() []byte {
	b := []byte(`{"error":{`)
	if e.code != "" {
		b = append(b, `"code":`...)
		b = appendStr(b, e.code)
		b = append(b, ',')
	}
	b = append(b, `"message":`...)
	b = appendStr(b, e.message)
	if e.param != "" {
		b = append(b, `,"param":`...)
		b = appendStr(b, e.param)
	}
	b = append(b, `,"type":`...)
	b = appendStr(b, e.typ)
	return append(b, "}}\n"...)
}

func invalid(param, msg string) *apiError {
	return &apiError{status: http.StatusBadRequest, typ: errInvalidRequest, param: param, message: msg}
}

func writeBody(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeError(w http.ResponseWriter, e *apiError) { writeBody(w, e.status, e.body()) }

// faultError is the default body of an injected error status.
func faultError(status int) *apiError {
	switch {
	case status == http.StatusTooManyRequests:
		return &apiError{status: status, typ: errInvalidRequest, code: "rate_limit",
			message: "Too many requests hit the API too quickly. We recommend an exponential backoff of your requests."}
	case status >= 500:
		return &apiError{status: status, typ: errAPI,
			message: "Something went wrong on Stripe's end. (fakestripe injected fault " + strconv.Itoa(status) + ")"}
	default:
		return &apiError{status: status, typ: errInvalidRequest,
			message: "fakestripe injected fault " + strconv.Itoa(status)}
	}
}

// ServeHTTP answers a Stripe API request.
func (s *Server) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	pos, gen, reqID, f, faulty := s.logStart(r)
	w := &statusWriter{ResponseWriter: rw, record: func(code int) { s.logEnd(pos, gen, code) }}

	h := w.Header()
	h.Set("Request-Id", "req_"+strconv.FormatUint(reqID, 10))
	h.Set("Stripe-Version", apiVersion)

	repeat := false
	if faulty {
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				w.setStatus(499) // nothing is sent: the client is gone
				return
			}
		}
		if f.RetryAfter != "" {
			h.Set("Retry-After", f.RetryAfter)
		}
		switch {
		case f.HTML:
			status := f.Status
			if status == 0 {
				status = http.StatusBadGateway
			}
			page := "<!DOCTYPE html>\n<html><head><title>" + strconv.Itoa(status) + " " + http.StatusText(status) +
				"</title></head><body><h1>" + http.StatusText(status) + "</h1><hr>proxy</body></html>\n"
			h.Set("Content-Type", "text/html; charset=utf-8")
			h.Set("Content-Length", strconv.Itoa(len(page)))
			w.WriteHeader(status)
			_, _ = w.Write([]byte(page))
			return
		case f.Body != "":
			status := f.Status
			if status == 0 {
				status = http.StatusOK
			}
			writeBody(w, status, []byte(f.Body))
			return
		case f.Status != 0:
			writeError(w, faultError(f.Status))
			return
		}
		repeat = f.RepeatCursor
	}

	if s.limited(r.URL.Path) {
		rateLimited(w)
		return
	}
	if e := s.authenticate(r); e != nil {
		h.Set("WWW-Authenticate", `Bearer realm="Stripe"`)
		writeError(w, e)
		return
	}
	if r.Method != http.MethodGet {
		h.Set("Allow", http.MethodGet)
		writeError(w, &apiError{status: http.StatusMethodNotAllowed, typ: errInvalidRequest,
			message: "fakestripe is read-only: method " + r.Method + " is not allowed (" + r.Method + " " + r.URL.Path + ")."})
		return
	}
	body, e := s.route(r.URL.Path, r.URL.Query(), repeat)
	if e != nil {
		writeError(w, e)
		return
	}
	writeBody(w, http.StatusOK, body)
}

func (s *Server) authenticate(r *http.Request) *apiError {
	if s.apiKey == "" {
		return nil
	}
	key := ""
	auth := r.Header.Get("Authorization")
	if k, ok := strings.CutPrefix(auth, "Bearer "); ok {
		key = strings.TrimSpace(k)
	} else if u, _, ok := r.BasicAuth(); ok {
		key = u
	} else if k, ok := strings.CutPrefix(auth, "Basic "); ok {
		// Tolerate a basic auth value that is not valid base64 of "user:".
		if d, err := base64.StdEncoding.DecodeString(k); err == nil {
			key, _, _ = strings.Cut(string(d), ":")
		}
	}
	if key == s.apiKey {
		return nil
	}
	if key == "" {
		return &apiError{status: http.StatusUnauthorized, typ: errInvalidRequest,
			message: "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY')."}
	}
	return &apiError{status: http.StatusUnauthorized, typ: errInvalidRequest,
		message: "Invalid API Key provided: " + redactKey(key)}
}

// redactKey keeps a key's type prefix (e.g. "sk_test_") and at most its last
// four characters: "sk_test_****abcd". Short keys show no tail at all.
func redactKey(key string) string {
	prefix := ""
	for _, p := range []string{"sk_test_", "sk_live_", "rk_test_", "rk_live_", "pk_test_", "pk_live_"} {
		if strings.HasPrefix(key, p) {
			prefix = p
			break
		}
	}
	rest := key[len(prefix):]
	tail := ""
	if len(rest) >= 12 {
		tail = rest[len(rest)-4:]
	}
	return prefix + "****" + tail
}

// kind describes a listable object type.
type kind struct {
	typ     string // object type, for expansion checks
	url     string // list URL
	params  map[string]bool
	created func(int32) int64
	lookup  func(string) int32
	render  func([]byte, int32, []string) []byte
	display string // name in "No such ..." messages
}

func paramSet(extra ...string) map[string]bool {
	m := map[string]bool{}
	for _, p := range append([]string{"limit", "starting_after", "ending_before", "expand", "created"}, extra...) {
		m[p] = true
	}
	return m
}

var (
	refundParams = paramSet("charge", "payment_intent")
	chargeParams = paramSet("customer", "payment_intent")
	txnParams    = paramSet("type", "source", "currency")
	eventParams  = paramSet("type", "types", "delivery_success")
)

// kinds describes the four listable object types of s.
type kinds struct{ refunds, charges, txns, events, customers *kind }

func (s *Server) newKinds() kinds {
	refunds := &kind{typ: "refund", url: "/v1/refunds", display: "refund",
		params:  refundParams,
		created: s.refundCreated, lookup: s.refundIndex, render: s.appendRefund}
	charges := &kind{typ: "charge", url: "/v1/charges", display: "charge",
		params:  chargeParams,
		created: s.chargeCreated, lookup: s.chargeIndex, render: s.appendCharge}
	txns := &kind{typ: "balance_transaction", url: "/v1/balance_transactions",
		display: "balance transaction",
		params:  txnParams,
		created: s.txnCreated,
		lookup:  func(id string) int32 { return parseSeqID(id, "txn_", len(s.txns)) },
		render:  s.appendTxn}
	events := &kind{typ: "event", url: "/v1/events", display: "event",
		params:  eventParams,
		created: s.eventCreated,
		lookup:  func(id string) int32 { return parseSeqID(id, "evt_", len(s.events)) },
		render:  s.appendEvent}
	customers := &kind{typ: "customer", url: "/v1/customers", display: "customer",
		params:  customerParams,
		created: s.customerCreated, lookup: s.customerIndex, render: s.appendCustomer}
	return kinds{refunds, charges, txns, events, customers}
}

// route serves a GET of p. It returns the response body or an error.
func (s *Server) route(p string, q url.Values, repeat bool) ([]byte, *apiError) {
	s.rlockSorted()
	defer s.mu.RUnlock()
	refunds, charges, txns, events := s.kinds.refunds, s.kinds.charges, s.kinds.txns, s.kinds.events
	var k *kind
	rest, ok := strings.CutPrefix(p, "/v1/")
	if ok {
		coll, id, hasID := strings.Cut(rest, "/")
		switch coll {
		case "refunds":
			k = refunds
		case "charges":
			k = charges
		case "balance_transactions":
			k = txns
		case "events":
			k = events
		case "customers":
			k = s.kinds.customers
		}
		if k != nil && hasID {
			if id == "" || strings.Contains(id, "/") {
				k = nil
			} else {
				return s.retrieve(k, id, q)
			}
		}
	}
	if k == nil {
		return nil, &apiError{status: http.StatusNotFound, typ: errInvalidRequest,
			message: "Unrecognized request URL (GET: " + p + "). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."}
	}
	o, e := parseList(k, q, repeat)
	if e != nil {
		return nil, e
	}
	var cands []int32
	filtered := false
	switch k {
	case refunds:
		cands, filtered, e = s.refundCandidates(q, &o)
	case charges:
		cands, filtered, e = s.chargeCandidates(q, &o)
	case txns:
		cands, filtered, e = s.txnCandidates(q, &o)
	case events:
		cands, filtered, e = s.eventCandidates(q, &o)
	case s.kinds.customers:
		cands, filtered, e = s.customerCandidates(q, &o)
	}
	if e != nil {
		return nil, e
	}
	if filtered {
		cands = s.sortCandidates(cands, k.created, &o)
	}
	page, more, e := s.page(k, cands, &o)
	if e != nil {
		return nil, e
	}
	b := make([]byte, 0, 64+len(page)*700)
	b = append(b, `{"object":"list","data":[`...)
	for i, e := range page {
		if i > 0 {
			b = append(b, ',')
		}
		b = k.render(b, e, o.expand)
	}
	b = append(b, `],"has_more":`...)
	b = strconv.AppendBool(b, more)
	b = append(b, `,"url":"`...)
	b = append(b, k.url...)
	b = append(b, "\"}\n"...)
	return b, nil
}

func (s *Server) retrieve(k *kind, id string, q url.Values) ([]byte, *apiError) {
	var exp []string
	for key, vs := range q {
		if base, _, _ := strings.Cut(key, "["); base != "expand" {
			return nil, invalid(key, "Received unknown parameter: "+key)
		}
		exp = append(exp, vs...)
	}
	exp = cleanExpand(exp)
	if e := checkExpand(k.typ, exp); e != nil {
		return nil, e
	}
	e := k.lookup(id)
	if e == noElem {
		return nil, &apiError{status: http.StatusNotFound, typ: errInvalidRequest, code: codeMissing,
			param: "id", message: "No such " + k.display + ": '" + id + "'"}
	}
	b := k.render(make([]byte, 0, 1024), e, exp)
	return append(b, '\n'), nil
}

func cleanExpand(exp []string) []string {
	out := exp[:0]
	for _, p := range exp {
		if p != "" {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// listOpts are the parsed common list parameters.
type listOpts struct {
	limit         int
	after, before string
	lo, hi        int64 // inclusive created bounds
	hasCreated    bool
	expand        []string // relative to the list items
	repeat        bool
}

const (
	minTime = -1 << 63
	maxTime = 1<<63 - 1
)

func parseInt(key, v string) (int64, *apiError) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, invalid(key, "Invalid integer: "+v)
	}
	return n, nil
}

// arrayValues returns the values of name, name[] and name[N] keys.
func arrayValues(q url.Values, name string) []string {
	var out []string
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if k == name {
			out = append(out, q[k]...)
			continue
		}
		idx, ok := strings.CutPrefix(k, name+"[")
		if !ok || !strings.HasSuffix(idx, "]") {
			continue
		}
		if idx = strings.TrimSuffix(idx, "]"); idx == "" || strings.Trim(idx, "0123456789") == "" {
			out = append(out, q[k]...)
		}
	}
	return out
}

func last(vs []string) string { return vs[len(vs)-1] }

func parseList(k *kind, q url.Values, repeat bool) (listOpts, *apiError) {
	o := listOpts{limit: 10, lo: minTime, hi: maxTime, repeat: repeat}
	keys := make([]string, 0, len(q))
	for key := range q {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	for _, key := range keys {
		base, sub, hasSub := strings.Cut(key, "[")
		if !k.params[base] {
			return o, invalid(base, "Received unknown parameter: "+key)
		}
		v := last(q[key])
		switch base {
		case "limit":
			n, err := strconv.Atoi(v)
			switch {
			case err != nil:
				return o, invalid("limit", "Invalid integer: "+v)
			case n < 1:
				return o, invalid("limit", "This value must be greater than or equal to 1.")
			case n > 100:
				return o, invalid("limit", "This value must be less than or equal to 100.")
			}
			o.limit = n
		case "starting_after":
			o.after = v
		case "ending_before":
			o.before = v
		case "created":
			n, e := parseInt(key, v)
			if e != nil {
				return o, e
			}
			o.hasCreated = true
			switch {
			case !hasSub:
				o.lo, o.hi = max(o.lo, n), min(o.hi, n)
			case sub == "gt]":
				if n == maxTime {
					o.lo = maxTime
					o.hi = minTime
				} else {
					o.lo = max(o.lo, n+1)
				}
			case sub == "gte]":
				o.lo = max(o.lo, n)
			case sub == "lt]":
				if n == minTime {
					o.lo, o.hi = maxTime, minTime
				} else {
					o.hi = min(o.hi, n-1)
				}
			case sub == "lte]":
				o.hi = min(o.hi, n)
			default:
				return o, invalid(key, "Received unknown parameter: "+key)
			}
		}
	}
	if o.after != "" && o.before != "" {
		return o, invalid("ending_before", "You may only specify one of these parameters: ending_before, starting_after.")
	}
	for _, p := range cleanExpand(arrayValues(q, "expand")) {
		rel, ok := strings.CutPrefix(p, "data.")
		if !ok {
			return o, invalid("expand", "This property cannot be expanded ("+p+"). You may want to try expanding 'data."+p+"' instead.")
		}
		o.expand = append(o.expand, rel)
	}
	if e := checkExpand(k.typ, o.expand); e != nil {
		e.message = strings.Replace(e.message, "(", "(data.", 1)
		return o, e
	}
	return o, nil
}

// keep reports whether created lies within the created bounds of o.
func (o *listOpts) keep(created int64) bool { return created >= o.lo && created <= o.hi }

// sortCandidates keeps filtered candidates within the created bounds and
// sorts them ascending by (created, element).
func (s *Server) sortCandidates(c []int32, created func(int32) int64, o *listOpts) []int32 {
	if o.hasCreated {
		c = slices.DeleteFunc(c, func(e int32) bool { return !o.keep(created(e)) })
	}
	slices.SortFunc(c, func(a, b int32) int {
		ca, cb := created(a), created(b)
		switch {
		case keyLess(ca, a, cb, b):
			return -1
		case keyLess(cb, b, ca, a):
			return 1
		}
		return 0
	})
	return c
}

// page cuts the newest-first page out of ascending candidates c.
func (s *Server) page(k *kind, c []int32, o *listOpts) ([]int32, bool, *apiError) {
	n := len(c)
	var lo, hi int // page is c[lo:hi], reversed
	more := false
	cursor, param := o.after, "starting_after"
	if o.before != "" {
		cursor, param = o.before, "ending_before"
	}
	switch {
	case o.repeat || cursor == "":
		lo, hi = max(0, n-o.limit), n
		more = o.repeat || lo > 0
	default:
		ce := k.lookup(cursor)
		if ce == noElem {
			return nil, false, &apiError{status: http.StatusBadRequest, typ: errInvalidRequest, code: codeMissing,
				param: param, message: "No such " + k.display + ": '" + cursor + "'"}
		}
		kc := k.created(ce)
		if o.after != "" {
			// Items after the cursor in newest-first order have smaller keys.
			p := sort.Search(n, func(i int) bool { return !keyLess(k.created(c[i]), c[i], kc, ce) })
			lo, hi = max(0, p-o.limit), p
			more = lo > 0
		} else {
			// Items before the cursor have larger keys; take those nearest it.
			p := sort.Search(n, func(i int) bool { return keyLess(kc, ce, k.created(c[i]), c[i]) })
			lo, hi = p, min(n, p+o.limit)
			more = hi < n
		}
	}
	out := make([]int32, 0, hi-lo)
	for i := hi - 1; i >= lo; i-- {
		out = append(out, c[i])
	}
	return out, more, nil
}

func (s *Server) refundCandidates(q url.Values, o *listOpts) ([]int32, bool, *apiError) {
	chID, pi := q.Get("charge"), q.Get("payment_intent")
	if chID == "" && pi == "" {
		return s.refundTL.window(o.lo, o.hi, s.refundCreated), false, nil
	}
	var c []int32
	addCharge := func(ch int32) {
		for e := s.charges[ch].firstRefund; e != noElem; e = s.refunds[e].next {
			if pi == "" || s.ar.eq(s.refunds[e].pi, pi) {
				c = append(c, e)
			}
		}
	}
	if chID != "" {
		if ch := s.chargeIndex(chID); ch != noElem {
			addCharge(ch)
		}
		return c, true, nil
	}
	for ch := s.chargesWithPI(pi); ch != noElem; ch = s.charges[ch].nextPI {
		addCharge(ch)
	}
	for e := s.orphansWithPI(pi); e != noElem; e = s.refunds[e].next {
		c = append(c, e)
	}
	return c, true, nil
}

func (s *Server) chargeCandidates(q url.Values, o *listOpts) ([]int32, bool, *apiError) {
	cus, pi := q.Get("customer"), q.Get("payment_intent")
	var c []int32
	switch {
	case cus != "":
		for e := s.chargesOfCustomer(cus); e != noElem; e = s.charges[e].nextCust {
			if pi == "" || s.ar.eq(s.charges[e].pi, pi) {
				c = append(c, e)
			}
		}
	case pi != "":
		for e := s.chargesWithPI(pi); e != noElem; e = s.charges[e].nextPI {
			c = append(c, e)
		}
	default:
		return s.chargeTL.window(o.lo, o.hi, s.chargeCreated), false, nil
	}
	return c, true, nil
}

func (s *Server) txnCandidates(q url.Values, o *listOpts) ([]int32, bool, *apiError) {
	typ, src, cur := q.Get("type"), q.Get("source"), strings.ToLower(q.Get("currency"))
	var c []int32
	filtered := false
	switch {
	case src != "":
		filtered = true
		if e := s.refundIndex(src); e != noElem {
			for _, t := range []int32{s.refunds[e].txn, s.refunds[e].failTxn} {
				if t != noElem && (typ == "" || txnTypeNames[s.txns[t].typ] == typ) {
					c = append(c, t)
				}
			}
		}
	case typ != "":
		for i, name := range txnTypeNames {
			if name == typ {
				c = s.txnTypeTL[i].window(o.lo, o.hi, s.txnCreated)
			}
		}
	default:
		c = s.txnTL.window(o.lo, o.hi, s.txnCreated)
	}
	if cur != "" {
		var f []int32
		for _, t := range c {
			if s.currencies.name(s.refunds[s.txns[t].refund].currency) == cur {
				f = append(f, t)
			}
		}
		c = f
	}
	return c, filtered, nil
}

// matchType matches an event type against a filter that may use '*' as a
// wildcard ("charge.*").
func matchType(pattern, typ string) bool {
	if !strings.Contains(pattern, "*") {
		return pattern == typ
	}
	ok, _ := path.Match(pattern, typ)
	return ok || strings.HasSuffix(pattern, ".*") && strings.HasPrefix(typ, strings.TrimSuffix(pattern, "*"))
}

func (s *Server) eventCandidates(q url.Values, o *listOpts) ([]int32, bool, *apiError) {
	var patterns []string
	if t := q.Get("type"); t != "" {
		patterns = append(patterns, t)
	}
	types := arrayValues(q, "types")
	if len(types) > 0 && len(patterns) > 0 {
		return nil, false, invalid("types", "You may pass either type or types, but not both.")
	}
	if len(types) > 20 {
		return nil, false, invalid("types", "You may pass at most 20 types.")
	}
	patterns = append(patterns, types...)
	w := s.eventTL.window(o.lo, o.hi, s.eventCreated)
	ds := q.Get("delivery_success")
	if len(patterns) == 0 && ds != "false" {
		return w, false, nil
	}
	var c []int32
	if ds == "false" { // every fake event counts as delivered
		return c, false, nil
	}
	for _, e := range w {
		for _, p := range patterns {
			if matchType(p, s.events[e].typ) {
				c = append(c, e)
				break
			}
		}
	}
	return c, false, nil
}
