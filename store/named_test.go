package store

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"testing"

	"github.com/refundrecon/refundrecon/reconcile"
)

func TestBindNamed(t *testing.T) {
	params := map[string]any{"since": "S", "until": "U", "customer_id": nil}
	tests := []struct {
		name, query     string
		pg, sqlite      string
		pgArgs, sqlArgs []any
	}{
		{
			name:    "casts survive",
			query:   "SELECT completed_at::timestamptz FROM t WHERE a >= :since::timestamptz AND b <= CAST(:until AS timestamptz)",
			pg:      "SELECT completed_at::timestamptz FROM t WHERE a >= $1::timestamptz AND b <= CAST($2 AS timestamptz)",
			sqlite:  "SELECT completed_at::timestamptz FROM t WHERE a >= ?::timestamptz AND b <= CAST(? AS timestamptz)",
			pgArgs:  []any{"S", "U"},
			sqlArgs: []any{"S", "U"},
		},
		{
			name:    "a repeated name is one PostgreSQL parameter",
			query:   "WHERE (CAST(:customer_id AS text) IS NULL OR customer_id = :customer_id) AND x = :since",
			pg:      "WHERE (CAST($1 AS text) IS NULL OR customer_id = $1) AND x = $2",
			sqlite:  "WHERE (CAST(? AS text) IS NULL OR customer_id = ?) AND x = ?",
			pgArgs:  []any{nil, "S"},
			sqlArgs: []any{nil, nil, "S"},
		},
		{
			name:   "literals, identifiers and comments are text",
			query:  `SELECT 'a:since', E'it\'s :since', 'x'':until', "col:since", $$ :since $$, $t$ :until $t$ -- :since` + "\n/* :until /* :since */ */ :since",
			pg:     `SELECT 'a:since', E'it\'s :since', 'x'':until', "col:since", $$ :since $$, $t$ :until $t$ -- :since` + "\n/* :until /* :since */ */ $1",
			sqlite: `SELECT 'a:since', E'it\'s :since', 'x'':until', "col:since", $$ :since $$, $t$ :until $t$ -- :since` + "\n/* :until /* :since */ */ ?",
			pgArgs: []any{"S"}, sqlArgs: []any{"S"},
		},
		{
			name:   "no name, no parameter",
			query:  "SELECT a[1:2], b[x:y], $1, 'ünï:côde', x := 1, ':'",
			pg:     "SELECT a[1:2], b[x:y], $1, 'ünï:côde', x := 1, ':'",
			sqlite: "SELECT a[1:2], b[x:y], $1, 'ünï:côde', x := 1, ':'",
		},
		{
			name:   "name at the very end",
			query:  "WHERE a = :until",
			pg:     "WHERE a = $1",
			sqlite: "WHERE a = ?",
			pgArgs: []any{"U"}, sqlArgs: []any{"U"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, d := range []struct {
				dialect, want string
				args          []any
			}{{DialectPostgres, tc.pg, tc.pgArgs}, {DialectSQLite, tc.sqlite, tc.sqlArgs}} {
				b := newBinder(d.dialect)
				got, err := b.bindNamed(tc.query, params)
				if err != nil {
					t.Fatalf("%s: %v", d.dialect, err)
				}
				if got != d.want || !slices.Equal(b.args, d.args) {
					t.Errorf("%s:\n got %q %v\nwant %q %v", d.dialect, got, b.args, d.want, d.args)
				}
			}
		})
	}
}

func TestBindNamedUnknown(t *testing.T) {
	_, err := newBinder(DialectPostgres).bindNamed("WHERE a = :since AND b = :start_date", map[string]any{"since": 1})
	if !errors.Is(err, reconcile.ErrConfig) || err.Error() != "unknown parameter :start_date (known: :since): configuration error" {
		t.Errorf("error = %v", err)
	}
}

func TestKeyBatches(t *testing.T) {
	q := reconcile.LedgerQuery{
		IDs:              []string{"b", "a", "a", ""},
		GatewayRefundIDs: []string{"re_1", "re_2", "re_3"},
		ChargeIDs:        []string{""},
		PaymentIntentIDs: []string{"pi_1"},
	}
	got := fmt.Sprint(keyBatches(q, 2))
	want := "[[{id [a b]}] [{gateway_refund_id [re_1 re_2]}] [{gateway_refund_id [re_3]} {payment_intent_id [pi_1]}]]"
	if got != want {
		t.Errorf("keyBatches = %s, want %s", got, want)
	}
}

func TestLooseScanners(t *testing.T) {
	var a looseAmount
	for _, tc := range []struct {
		in   any
		n    int64
		null bool
		text string
	}{
		{int64(4500), 4500, false, ""}, {"4500", 4500, false, ""}, {[]byte("4500.00"), 4500, false, ""},
		{float64(12), 12, false, ""}, {nil, 0, true, ""},
		// Never rounded or truncated: a fraction, text, or a number beyond
		// int64 is kept as read, for the row to be reported invalid.
		{12.5, 0, false, "12.5"}, {"12.50", 0, false, "12.50"}, {[]byte("60.5"), 0, false, "60.5"},
		{"abc", 0, false, "abc"}, {"", 0, false, `""`}, {".00", 0, false, ".00"},
		{"99999999999999999999", 0, false, "99999999999999999999"}, {1e300, 0, false, strconv.FormatFloat(1e300, 'f', -1, 64)},
	} {
		a.Scan(tc.in)
		if a.n != tc.n || a.null != tc.null || a.text != tc.text {
			t.Errorf("amount %#v = %d/%v/%q, want %d/%v/%q", tc.in, a.n, a.null, a.text, tc.n, tc.null, tc.text)
		}
	}
	var tm looseTime
	for _, in := range []any{"2025-03-14T09:26:53.589793Z", "2025-03-14 10:26:53.589793+01:00", []byte("2025-03-14 09:26:53.589793")} {
		tm.Scan(in)
		if got := tm.Format(sqliteTimeLayout); got != "2025-03-14T09:26:53.589793Z" {
			t.Errorf("time %q = %s", in, got)
		}
	}
	if tm.Scan("yesterday"); !tm.IsZero() {
		t.Errorf("unreadable time = %v, want zero", tm.Time)
	}
	var s looseString
	if s.Scan(int64(42)); s.s != "42" {
		t.Errorf("string of 42 = %q", s.s)
	}
}
