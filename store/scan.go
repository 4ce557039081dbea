package store

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// sqliteTimeLayout is how SQLite stores a timestamp: UTC, fixed width,
// microseconds, so that comparing the text compares the times.
const sqliteTimeLayout = "2006-01-02T15:04:05.000000Z"

// The ends of an open window: a zero Since means the whole history.
var (
	farPast   = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	farFuture = time.Date(9999, 12, 31, 23, 59, 59, 999999000, time.UTC)
)

// storedTime is t as the store keeps it: UTC, truncated to microseconds,
// the precision of PostgreSQL's timestamptz.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// timeArg is t as a query argument of the dialect, never NULL.
func (db *DB) timeArg(t time.Time) any {
	t = storedTime(t)
	if db.dialect == DialectSQLite {
		return t.Format(sqliteTimeLayout)
	}
	return t
}

// nullTimeArg is timeArg, with the zero time as NULL.
func (db *DB) nullTimeArg(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return db.timeArg(t)
}

// nullString is s as a query argument, with "" as NULL.
func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nullInt is *n as a query argument, with nil as NULL.
func nullInt(n *int64) any {
	if n == nil {
		return nil
	}
	return *n
}

// timeLayouts are the text forms a timestamp is read in: the store's own
// first, then what ledgers written by other tools tend to hold.
var timeLayouts = []string{
	sqliteTimeLayout,
	time.RFC3339Nano,
	"2006-01-02 15:04:05.999999999Z07:00",
	"2006-01-02 15:04:05.999999999Z07",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02",
}

// parseTime reads a timestamp in any of timeLayouts; one without a zone is
// taken as UTC.
func parseTime(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range timeLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("unrecognised timestamp %q", s)
}

// dbTime scans a timestamp of the store's own tables: time.Time from
// PostgreSQL, text from SQLite. NULL is the zero time. A value it cannot read
// is an error: the store wrote it.
type dbTime struct{ time.Time }

// Scan implements sql.Scanner.
func (t *dbTime) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		t.Time = time.Time{}
	case time.Time:
		t.Time = v.UTC()
	case string:
		p, err := parseTime(v)
		if err != nil {
			return err
		}
		t.Time = p
	case []byte:
		p, err := parseTime(string(v))
		if err != nil {
			return err
		}
		t.Time = p
	default:
		return fmt.Errorf("cannot scan %T into a timestamp", v)
	}
	return nil
}

// looseTime scans a ledger timestamp of whatever type a LEDGER_QUERY
// returns. A value it cannot read becomes the zero time, never an error: the
// reconciler reports the row.
type looseTime struct{ time.Time }

// Scan implements sql.Scanner.
func (t *looseTime) Scan(v any) error {
	t.Time = time.Time{}
	switch v := v.(type) {
	case time.Time:
		t.Time = v.UTC()
	case string:
		t.Time, _ = parseTime(v)
	case []byte:
		t.Time, _ = parseTime(string(v))
	case int64: // Unix seconds
		t.Time = time.Unix(v, 0).UTC()
	}
	return nil
}

// looseString scans a ledger text column; numbers and times are formatted,
// NULL is "".
type looseString struct{ s string }

// Scan implements sql.Scanner.
func (l *looseString) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		l.s = ""
	case string:
		l.s = v
	case []byte:
		l.s = string(v)
	case time.Time:
		l.s = v.UTC().Format(time.RFC3339Nano)
	default:
		l.s = fmt.Sprint(v)
	}
	return nil
}

// looseAmount scans a ledger amount. NULL sets null; a value that is not a
// whole number of minor units (60.5, "60.50", text, a number beyond int64)
// sets text to the value as read, never rounded or truncated: the
// reconciler reports the row. A numeric value whose fraction is zero
// ("60.00", 60.0) is the whole number it equals.
type looseAmount struct {
	n    int64
	null bool
	text string
}

// Scan implements sql.Scanner.
func (a *looseAmount) Scan(v any) error {
	a.n, a.null, a.text = 0, false, ""
	switch v := v.(type) {
	case nil:
		a.null = true
	case int64:
		a.n = v
	case float64:
		if v == math.Trunc(v) && math.Abs(v) < 1<<62 {
			a.n = int64(v)
		} else {
			a.text = strconv.FormatFloat(v, 'f', -1, 64)
		}
	case string:
		a.scanText(v)
	case []byte:
		a.scanText(string(v))
	default:
		a.text = fmt.Sprint(v)
	}
	return nil
}

func (a *looseAmount) scanText(s string) {
	if n, ok := parseAmount(s); ok {
		a.n = n
		return
	}
	a.text = s
	if a.text == "" {
		a.text = `""`
	}
}

// parseAmount reads "4500" and the "4500.00" of a numeric column: a whole
// number, its fraction zero.
func parseAmount(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return n, true
	}
	if whole, frac, ok := strings.Cut(s, "."); ok && strings.Trim(frac, "0") == "" && whole != "" && whole != "-" && whole != "+" {
		if n, err := strconv.ParseInt(whole, 10, 64); err == nil {
			return n, true
		}
	}
	return 0, false
}

// discard scans and drops a column a LEDGER_QUERY returns beyond the
// required ones.
type discard struct{}

// Scan implements sql.Scanner.
func (discard) Scan(any) error { return nil }
