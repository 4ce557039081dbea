package gateway

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// A nightly run lists a million refunds: ten thousand pages of a hundred,
// each refund with its charge expanded. stripe-go decodes a page with
// encoding/json into its full Refund and Charge types, validating every
// byte four times over (its list, refund and charge types each unmarshal
// again); that was most of a run's CPU. The refund listings therefore
// fetch their pages through stripe-go's backend unparsed and read them with
// decodeRefundPage, which looks at every byte once, keeps only what
// reconciliation needs, and holds no reference to the body afterwards.
//
// On what Stripe sends it yields exactly what stripe-go would: field names
// match as encoding/json matches them (exactly, else case-insensitively; the
// last occurrence wins), strings are unescaped the same way (invalid UTF-8
// becomes U+FFFD), an expandable field given as a string is its id taken
// raw as stripe-go's ParseID takes it, null leaves a field empty, and a
// body that is not valid JSON, or gives a field it reads a value of the
// wrong type, is an error. It is more lenient than stripe-go in one way
// only: a wrongly typed value in a field it does not read is skipped.

// pageRefund is the part of a Stripe refund that reconciliation reads. Its
// text points into the page's body (or, when unescaped, a copy): it is
// valid until the next page is read, and conversion copies what it keeps.
type pageRefund struct {
	ID, Currency, Status, FailureReason []byte
	Amount, Created                     int64
	// Metadata is the value of the metadata key.
	Metadata                            []byte
	PaymentIntent, Charge               expandable
	ChargeCustomer, ChargePaymentIntent expandable
	// ARN is destination_details.card.reference, the card network's
	// reference of the refund.
	ARN []byte
}

// expandable is an expandable field: absent or null, an id, or an object
// with an id.
type expandable struct {
	set bool
	ID  []byte
}

// refundPage is one decoded page of a refund listing.
type refundPage struct {
	// Data is nil when the body had no data array (or "data": null).
	Data    []pageRefund
	HasMore bool
}

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// decoder reads one JSON document.
type decoder struct {
	b     []byte
	i     int
	depth int
	// metadataKey selects the one metadata entry kept.
	metadataKey string
}

func (d *decoder) errorf(format string, args ...any) error {
	return fmt.Errorf("decode stripe refund page at byte %d: %s", d.i, fmt.Sprintf(format, args...))
}

// decodeRefundPage decodes body into p, reusing p.Data's storage.
func decodeRefundPage(body []byte, metadataKey string, p *refundPage) error {
	d := decoder{b: body, metadataKey: metadataKey}
	data := p.Data[:0]
	p.Data, p.HasMore = nil, false
	d.ws()
	if d.i >= len(d.b) {
		return d.errorf("empty body")
	}
	if d.b[d.i] != '{' {
		if err := d.skip(); err != nil {
			return err
		}
		if err := d.end(); err != nil {
			return err
		}
		return d.errorf("the body is not an object")
	}
	err := d.object(func(key []byte) error {
		switch {
		case fieldIs(key, "data"):
			if d.null() {
				p.Data = nil
				return nil
			}
			if d.b[d.i] != '[' {
				return d.typeError("data", "array")
			}
			data = data[:0]
			err := d.array(func() error {
				data = append(data, pageRefund{})
				return d.refund(&data[len(data)-1])
			})
			if err != nil {
				return err
			}
			p.Data = data
			if p.Data == nil {
				p.Data = []pageRefund{}
			}
		case fieldIs(key, "has_more"):
			v, err := d.boolean("has_more")
			if err != nil {
				return err
			}
			p.HasMore = v
		default:
			return d.skip()
		}
		return nil
	})
	if err != nil {
		return err
	}
	return d.end()
}

// fieldIs matches a key to a field name as encoding/json does: exactly, or
// else without regard to case.
func fieldIs(key []byte, name string) bool {
	return string(key) == name || strings.EqualFold(string(key), name)
}

// refundFields are the refund fields read, in the order of field's result.
var refundFields = []string{"id", "amount", "created", "currency", "status", "failure_reason", "metadata", "payment_intent", "charge", "destination_details"}

const (
	fID = iota
	fAmount
	fCreated
	fCurrency
	fStatus
	fFailureReason
	fMetadata
	fPaymentIntent
	fCharge
	fDestination
)

// field returns the index in names (lower-case ASCII) of the field key
// names, -1 for none: an exact match first, as encoding/json prefers it.
func field(key []byte, names []string) int {
	for i, n := range names {
		if string(key) == n {
			return i
		}
	}
	// Only a key with an upper-case or non-ASCII letter can fold to one of
	// the names without being it: most keys need no second look.
	fold := false
	for _, c := range key {
		if 'A' <= c && c <= 'Z' || c >= utf8.RuneSelf {
			fold = true
			break
		}
	}
	if fold {
		for i, n := range names {
			if strings.EqualFold(string(key), n) {
				return i
			}
		}
	}
	return -1
}

func (d *decoder) refund(r *pageRefund) error {
	if d.null() {
		return nil // no id: the caller refuses it
	}
	if d.b[d.i] == '"' {
		// stripe-go reads a refund given as a string as its id, raw.
		id, err := d.rawString()
		r.ID = id
		return err
	}
	if d.b[d.i] != '{' {
		return d.typeError("refund", "object")
	}
	return d.object(func(key []byte) error {
		var err error
		switch field(key, refundFields) {
		case fID:
			r.ID, err = d.str("id", r.ID)
		case fAmount:
			r.Amount, err = d.int("amount", r.Amount)
		case fCreated:
			r.Created, err = d.int("created", r.Created)
		case fCurrency:
			r.Currency, err = d.str("currency", r.Currency)
		case fStatus:
			r.Status, err = d.str("status", r.Status)
		case fFailureReason:
			r.FailureReason, err = d.str("failure_reason", r.FailureReason)
		case fMetadata:
			err = d.metadata(r)
		case fPaymentIntent:
			err = d.expandable("payment_intent", &r.PaymentIntent, nil)
		case fCharge:
			if d.b[d.i] != '"' {
				// An object (or null) replaces the whole charge; an id
				// keeps what an earlier object said, as in stripe-go.
				r.ChargeCustomer, r.ChargePaymentIntent = expandable{}, expandable{}
			}
			err = d.expandable("charge", &r.Charge, func(key []byte) (bool, error) {
				switch field(key, chargeFields) {
				case 0:
					return true, d.expandable("customer", &r.ChargeCustomer, nil)
				case 1:
					return true, d.expandable("payment_intent", &r.ChargePaymentIntent, nil)
				}
				return false, nil
			})
		case fDestination:
			err = d.destination(r)
		default:
			err = d.skip()
		}
		return err
	})
}

// destination reads destination_details for its card.reference; as
// encoding/json does, null leaves the value as it was.
func (d *decoder) destination(r *pageRefund) error {
	if d.null() {
		return nil
	}
	if d.b[d.i] != '{' {
		return d.typeError("destination_details", "object")
	}
	return d.object(func(key []byte) error {
		if !fieldIs(key, "card") {
			return d.skip()
		}
		if d.null() {
			return nil
		}
		if d.b[d.i] != '{' {
			return d.typeError("destination_details.card", "object")
		}
		return d.object(func(key []byte) error {
			if !fieldIs(key, "reference") {
				return d.skip()
			}
			v, err := d.str("destination_details.card.reference", r.ARN)
			r.ARN = v
			return err
		})
	})
}

// chargeFields are the fields read of an expanded charge.
var chargeFields = []string{"customer", "payment_intent"}

// metadata keeps the value of the metadata key. As encoding/json decodes
// into a map, a second metadata object merges into the first (the value
// survives unless it names the key again) and null empties it.
func (d *decoder) metadata(r *pageRefund) error {
	if d.null() {
		r.Metadata = nil
		return nil
	}
	if d.b[d.i] != '{' {
		return d.typeError("metadata", "object")
	}
	return d.object(func(key []byte) error {
		if string(key) != d.metadataKey {
			if d.null() {
				return nil
			}
			if d.b[d.i] != '"' {
				return d.typeError("metadata value", "string")
			}
			return d.skip()
		}
		v, err := d.str("metadata value", nil)
		r.Metadata = v
		return err
	})
}

// expandable reads an id or an object; fields, when not nil, is offered
// each key of an object besides id first, and reports whether it read the
// value.
func (d *decoder) expandable(name string, e *expandable, fields func(key []byte) (bool, error)) error {
	if d.null() {
		*e = expandable{}
		return nil
	}
	switch d.b[d.i] {
	case '"':
		id, err := d.rawString()
		*e = expandable{set: true, ID: id}
		return err
	case '{':
		*e = expandable{set: true}
		return d.object(func(key []byte) error {
			if fieldIs(key, "id") {
				var err error
				e.ID, err = d.str(name+".id", e.ID)
				return err
			}
			if fields != nil {
				done, err := fields(key)
				if done || err != nil {
					return err
				}
			}
			return d.skip()
		})
	}
	return d.typeError(name, "string or object")
}

func (d *decoder) typeError(field, want string) error {
	return d.errorf("%s is not %s", field, want)
}

// ws skips white space.
func (d *decoder) ws() {
	for d.i < len(d.b) {
		switch d.b[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// end checks that nothing but white space follows the document.
func (d *decoder) end() error {
	d.ws()
	if d.i != len(d.b) {
		return d.errorf("invalid JSON: data after the top-level value")
	}
	return nil
}

// null consumes a null and reports whether there was one; it also reports
// true at the end of input so that callers stop (object or array then fail
// on it).
func (d *decoder) null() bool {
	if d.i >= len(d.b) {
		return false
	}
	if d.b[d.i] == 'n' && len(d.b)-d.i >= 4 && string(d.b[d.i:d.i+4]) == "null" {
		d.i += 4
		return true
	}
	return false
}

// object reads an object, calling field with each key with the decoder at
// the start of its value; field must consume the value.
func (d *decoder) object(field func(key []byte) error) error {
	if d.depth++; d.depth > maxDepth {
		return d.errorf("invalid JSON: nested too deeply")
	}
	defer func() { d.depth-- }()
	d.i++ // '{'
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == '}' {
		d.i++
		return nil
	}
	var buf []byte
	for {
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != '"' {
			return d.errorf("invalid JSON: want an object key")
		}
		key, err := d.keyBytes(buf[:0])
		if err != nil {
			return err
		}
		buf = key[:0:0]
		d.ws()
		if d.i >= len(d.b) || d.b[d.i] != ':' {
			return d.errorf("invalid JSON: want ':'")
		}
		d.i++
		d.ws()
		if d.i >= len(d.b) {
			return d.errorf("invalid JSON: unexpected end")
		}
		if err := field(key); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.errorf("invalid JSON: unexpected end in an object")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case '}':
			d.i++
			return nil
		default:
			return d.errorf("invalid JSON: want ',' or '}'")
		}
	}
}

// array reads an array, calling elem with the decoder at each element.
func (d *decoder) array(elem func() error) error {
	if d.depth++; d.depth > maxDepth {
		return d.errorf("invalid JSON: nested too deeply")
	}
	defer func() { d.depth-- }()
	d.i++ // '['
	d.ws()
	if d.i < len(d.b) && d.b[d.i] == ']' {
		d.i++
		return nil
	}
	for {
		d.ws()
		if d.i >= len(d.b) {
			return d.errorf("invalid JSON: unexpected end in an array")
		}
		if err := elem(); err != nil {
			return err
		}
		d.ws()
		if d.i >= len(d.b) {
			return d.errorf("invalid JSON: unexpected end in an array")
		}
		switch d.b[d.i] {
		case ',':
			d.i++
		case ']':
			d.i++
			return nil
		default:
			return d.errorf("invalid JSON: want ',' or ']'")
		}
	}
}

// skip consumes any value, checking its syntax.
func (d *decoder) skip() error {
	if d.i >= len(d.b) {
		return d.errorf("invalid JSON: unexpected end")
	}
	switch c := d.b[d.i]; {
	case c == '{':
		return d.object(func([]byte) error { return d.skip() })
	case c == '[':
		return d.array(d.skip)
	case c == '"':
		_, _, err := d.stringSpan()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		_, err := d.number()
		return err
	}
	return d.errorf("invalid JSON: unexpected %q", d.b[d.i])
}

func (d *decoder) literal(s string) error {
	if len(d.b)-d.i < len(s) || string(d.b[d.i:d.i+len(s)]) != s {
		return d.errorf("invalid JSON: bad literal")
	}
	d.i += len(s)
	return nil
}

// number consumes a number in JSON's grammar and returns its text.
func (d *decoder) number() ([]byte, error) {
	start := d.i
	if d.i < len(d.b) && d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.i < len(d.b) && '1' <= d.b[d.i] && d.b[d.i] <= '9':
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
		}
	default:
		return nil, d.errorf("invalid JSON: bad number")
	}
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		if d.i >= len(d.b) || d.b[d.i] < '0' || d.b[d.i] > '9' {
			return nil, d.errorf("invalid JSON: bad number")
		}
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.i >= len(d.b) || d.b[d.i] < '0' || d.b[d.i] > '9' {
			return nil, d.errorf("invalid JSON: bad number")
		}
		for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
			d.i++
		}
	}
	return d.b[start:d.i], nil
}

// int reads an integer field; null keeps old.
func (d *decoder) int(field string, old int64) (int64, error) {
	if d.null() {
		return old, nil
	}
	if c := d.b[d.i]; c != '-' && (c < '0' || c > '9') {
		if err := d.skip(); err != nil {
			return 0, err
		}
		return 0, d.typeError(field, "a number")
	}
	text, err := d.number()
	if err != nil {
		return 0, err
	}
	n, err := strconv.ParseInt(string(text), 10, 64)
	if err != nil {
		return 0, d.errorf("%s %s is not a 64-bit integer", field, text)
	}
	return n, nil
}

func (d *decoder) boolean(field string) (bool, error) {
	switch {
	case d.null():
		return false, nil
	case d.b[d.i] == 't':
		return true, d.literal("true")
	case d.b[d.i] == 'f':
		return false, d.literal("false")
	}
	if err := d.skip(); err != nil {
		return false, err
	}
	return false, d.typeError(field, "a boolean")
}

// str reads a string field, unescaped as encoding/json does; null keeps
// old. An empty string is empty but not nil.
func (d *decoder) str(field string, old []byte) ([]byte, error) {
	if d.null() {
		return old, nil
	}
	if d.b[d.i] != '"' {
		if err := d.skip(); err != nil {
			return nil, err
		}
		return nil, d.typeError(field, "a string")
	}
	start := d.i
	span, plain, err := d.stringSpan()
	if err != nil {
		return nil, err
	}
	if plain {
		return span, nil
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return nil, d.errorf("%s: %v", field, err)
	}
	return []byte(s), nil
}

// rawString reads a string as stripe-go's ParseID does: the bytes between
// the quotes, escapes and all.
func (d *decoder) rawString() ([]byte, error) {
	span, _, err := d.stringSpan()
	return span, err
}

// keyBytes reads an object key into buf, unescaped when it must be.
func (d *decoder) keyBytes(buf []byte) ([]byte, error) {
	start := d.i
	span, plain, err := d.stringSpan()
	if err != nil || plain {
		return span, err
	}
	var s string
	if err := json.Unmarshal(d.b[start:d.i], &s); err != nil {
		return nil, d.errorf("object key: %v", err)
	}
	return append(buf, s...), nil
}

// stringSpan consumes a string and returns the bytes between its quotes;
// plain reports that they need no unescaping (no escape, ASCII only).
func (d *decoder) stringSpan() (span []byte, plain bool, err error) {
	d.i++ // '"'
	start := d.i
	// The common case: up to the closing quote, nothing to unescape.
	if n := bytes.IndexByte(d.b[start:], '"'); n >= 0 {
		span = d.b[start : start+n]
		ok := true
		for _, c := range span {
			if special[c] {
				ok = false
				break
			}
		}
		if ok {
			d.i = start + n + 1
			return span, true, nil
		}
	}
	plain = true
	for d.i < len(d.b) {
		c := d.b[d.i]
		switch {
		case c == '"':
			span = d.b[start:d.i]
			d.i++
			return span, plain, nil
		case c == '\\':
			plain = false
			d.i++
			if d.i >= len(d.b) {
				return nil, false, d.errorf("invalid JSON: unexpected end in a string")
			}
			switch d.b[d.i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				d.i++
			case 'u':
				if len(d.b)-d.i < 5 || !isHex(d.b[d.i+1]) || !isHex(d.b[d.i+2]) || !isHex(d.b[d.i+3]) || !isHex(d.b[d.i+4]) {
					return nil, false, d.errorf("invalid JSON: bad \\u escape")
				}
				d.i += 5
			default:
				return nil, false, d.errorf("invalid JSON: bad escape")
			}
		case c < 0x20:
			return nil, false, d.errorf("invalid JSON: control character in a string")
		case c >= utf8.RuneSelf:
			plain = false
			d.i++
		default:
			d.i++
		}
	}
	return nil, false, d.errorf("invalid JSON: unexpected end in a string")
}

// special marks the bytes a string's fast path cannot take as they are:
// control characters (invalid), the escape character and non-ASCII bytes
// (which may need replacing, as encoding/json replaces invalid UTF-8).
var special = func() (t [256]bool) {
	for c := range t {
		t[c] = c < 0x20 || c == '\\' || c >= utf8.RuneSelf
	}
	return t
}()

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}
