// Package ledgercsv reads a ledger export in CSV: a header row naming the
// contract's ledger columns (any order; other columns are ignored), then one
// refund a line. A bad line is reported with its line number and reason and
// the good ones are kept. It imports reconcile only.
package ledgercsv

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// Columns are the ledger columns a header must name.
var Columns = []string{
	"id", "customer_id", "charge_id", "payment_intent_id", "gateway_refund_id",
	"amount", "currency", "status", "completed_at", "created_at",
}

// LineError is a line that could not be imported.
type LineError struct {
	Line   int
	Reason string
}

func (e LineError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Reason) }

// timeLayouts are the timestamp forms a ledger export may use; a time
// without a zone is UTC.
var timeLayouts = []string{
	time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999Z07",
	"2006-01-02T15:04:05.999999999", "2006-01-02 15:04:05.999999999", "2006-01-02",
}

// Read reads a ledger export and calls fn for each good row with its line
// number. It returns the bad lines; an error means the file itself could not
// be read (no header, a header missing a column: the latter wraps
// reconcile.ErrConfig). validCurrency reports whether a code is on the ISO
// 4217 list.
func Read(r io.Reader, validCurrency func(string) bool, fn func(line int, l reconcile.LedgerRefund) error) ([]LineError, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // counted here, to name the line
	cr.ReuseRecord = true
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("the file is empty: it needs a header row naming the columns %s: %w", strings.Join(Columns, ", "), reconcile.ErrConfig)
	}
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	index := map[string]int{}
	for i, h := range header {
		name := strings.ToLower(strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))) // a BOM from spreadsheets
		if _, dup := index[name]; !dup {
			index[name] = i
		}
	}
	var missing []string
	for _, c := range Columns {
		if _, ok := index[c]; !ok {
			missing = append(missing, c)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("the header lacks the column(s) %s: %w", strings.Join(missing, ", "), reconcile.ErrConfig)
	}
	width := len(header)
	var bad []LineError
	seen := map[string]int{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return bad, nil
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			bad = append(bad, LineError{perr.StartLine, "not valid CSV: " + perr.Err.Error()})
			continue
		}
		if err != nil {
			return bad, fmt.Errorf("read: %w", err)
		}
		line, _ := cr.FieldPos(0) // only valid for a record read without error
		if len(rec) != width {
			bad = append(bad, LineError{line, fmt.Sprintf("has %d fields, the header has %d (a missing column?)", len(rec), width)})
			continue
		}
		get := func(c string) string { return strings.TrimSpace(rec[index[c]]) }
		l, reasons := parse(get)
		if len(reasons) == 0 {
			reasons = l.Problems(validCurrency)
		}
		if first, dup := seen[l.ID]; dup && l.ID != "" {
			reasons = append(reasons, fmt.Sprintf("id %s repeats line %d", l.ID, first))
		}
		if len(reasons) > 0 {
			bad = append(bad, LineError{line, strings.Join(reasons, "; ")})
			continue
		}
		seen[l.ID] = line
		if err := fn(line, l); err != nil {
			return bad, err
		}
	}
}

// parse turns a line's fields into a refund; the reasons say what could
// not be read.
func parse(get func(string) string) (reconcile.LedgerRefund, []string) {
	l := reconcile.LedgerRefund{
		ID: get("id"), CustomerID: get("customer_id"), ChargeID: get("charge_id"),
		PaymentIntentID: get("payment_intent_id"), GatewayRefundID: get("gateway_refund_id"),
		Currency: get("currency"), Status: reconcile.LedgerStatus(strings.ToLower(get("status"))),
	}
	var reasons []string
	switch a := get("amount"); {
	case a == "":
		l.AmountNull = true
	default:
		n, err := strconv.ParseInt(a, 10, 64)
		if err != nil {
			reasons = append(reasons, fmt.Sprintf("amount %q is not a whole number of minor units", a))
		}
		l.Amount = n
	}
	for _, f := range []struct {
		name string
		t    *time.Time
	}{{"completed_at", &l.CompletedAt}, {"created_at", &l.CreatedAt}} {
		v := get(f.name)
		if v == "" {
			continue
		}
		t, ok := parseTime(v)
		if !ok {
			reasons = append(reasons, fmt.Sprintf("%s %q is not a date and time (use RFC 3339, e.g. 2026-10-01T14:03:00Z)", f.name, v))
		}
		*f.t = t
	}
	return l, reasons
}

func parseTime(v string) (time.Time, bool) {
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}
