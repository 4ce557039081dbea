package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/refundrecon/refundrecon/reconcile"
)

// The case list: one reconcile.CaseFilter selects, sorts and pages cases for
// the API, the page and the report. Filtering, sorting and paging happen in
// the database with a keyset cursor, so the thousandth page costs what the
// first does.

// keyType says how a sort key's value is bound when a cursor resumes.
type keyType int

const (
	keyText keyType = iota
	keyInt
	keyTime
)

// sortKey is one expression of an order.
type sortKey struct {
	expr string
	typ  keyType
	desc bool
}

// rankExpr is the kind's worst-first rank, written from the one kind
// vocabulary (reconcile.Kind.Rank).
func rankExpr() string {
	var sb strings.Builder
	sb.WriteString("(CASE kind")
	for _, info := range reconcile.KindsWorstFirst() {
		// Kinds are the contract's snake_case constants: no quoting needed.
		fmt.Fprintf(&sb, " WHEN '%s' THEN %d", info.Kind, info.Rank)
	}
	fmt.Fprintf(&sb, " ELSE %d END)", len(reconcile.Kinds)+1)
	return sb.String()
}

const (
	sinceExpr    = "COALESCE(problem_since, first_seen_at)"
	refundAtExpr = "COALESCE(refund_at, first_seen_at)"
	atRiskExpr   = "COALESCE(at_risk_amount, 0)"
)

// sortKeys returns the keys of s, each ending on the id; desc reverses
// every order but SortWorst.
func sortKeys(s reconcile.CaseSort, desc bool) []sortKey {
	var keys []sortKey
	switch s {
	case reconcile.SortID:
	case reconcile.SortKind:
		keys = []sortKey{{expr: rankExpr(), typ: keyInt}}
	case reconcile.SortStatus:
		keys = []sortKey{{expr: "status", typ: keyText}}
	case reconcile.SortCustomer:
		keys = []sortKey{{expr: "COALESCE(customer_id, '')", typ: keyText}}
	case reconcile.SortRefundAt:
		keys = []sortKey{{expr: refundAtExpr, typ: keyTime}}
	case reconcile.SortSince:
		keys = []sortKey{{expr: sinceExpr, typ: keyTime}}
	case reconcile.SortAtRisk:
		keys = []sortKey{{expr: atRiskExpr, typ: keyInt}}
	case reconcile.SortFirstSeen:
		keys = []sortKey{{expr: "first_seen_at", typ: keyTime}}
	default: // worst first
		return []sortKey{{expr: rankExpr(), typ: keyInt}, {expr: atRiskExpr, typ: keyInt, desc: true},
			{expr: sinceExpr, typ: keyTime}, {expr: "id", typ: keyText}}
	}
	keys = append(keys, sortKey{expr: "id", typ: keyText})
	for i := range keys {
		keys[i].desc = desc
	}
	return keys
}

// cursor is what a next_cursor holds: the order it belongs to and the sort
// keys of the last case of the page.
type cursor struct {
	Sort reconcile.CaseSort `json:"s"`
	Desc bool               `json:"d,omitempty"`
	Keys []string           `json:"k"`
}

func (c cursor) encode() string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string) (cursor, error) {
	var c cursor
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil {
		return c, fmt.Errorf("the cursor %q is not one this server gave: %w", s, reconcile.ErrInvalid)
	}
	return c, nil
}

// bindKey binds a cursor value typed as the key's expression.
func (db *DB) bindKey(b *binder, k sortKey, v string) string {
	p := b.add(v)
	switch {
	case k.typ == keyInt && db.dialect == DialectPostgres:
		return p + "::bigint"
	case k.typ == keyInt:
		return "CAST(" + p + " AS INTEGER)"
	case k.typ == keyTime && db.dialect == DialectPostgres:
		return p + "::timestamptz"
	case db.dialect == DialectPostgres:
		return p + "::text"
	}
	return p
}

// escapeLike escapes LIKE's wildcards with a backslash.
func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// caseWhere returns the condition f selects (with a leading " WHERE "), or
// "".
func (db *DB) caseWhere(b *binder, f reconcile.CaseFilter) string {
	var where []string
	if len(f.Statuses) > 0 {
		statuses := make([]string, len(f.Statuses))
		for i, s := range f.Statuses {
			statuses[i] = string(s)
		}
		where = append(where, "status IN ("+b.list(statuses)+")")
	}
	if len(f.Kinds) > 0 {
		kinds := make([]string, len(f.Kinds))
		for i, k := range f.Kinds {
			kinds[i] = string(k)
		}
		where = append(where, "kind IN ("+b.list(kinds)+")")
	}
	if f.CustomerID != "" {
		where = append(where, "customer_id = "+b.add(f.CustomerID))
	}
	if q := strings.TrimSpace(f.Query); q != "" {
		p := escapeLike(q) + "%"
		var ors []string
		for _, col := range []string{"id", "ledger_refund_id", "charge_id", "payment_intent_id", "customer_id", "gateway_refund_ids"} {
			ors = append(ors, col+" LIKE "+b.add(p)+` ESCAPE '\'`)
		}
		// Any later id of the comma-joined list.
		ors = append(ors, "gateway_refund_ids LIKE "+b.add("%,"+p)+` ESCAPE '\'`)
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if len(f.MinAtRisk) > 0 {
		var ors []string
		for _, cur := range slices.Sorted(maps.Keys(f.MinAtRisk)) {
			ors = append(ors, "(at_risk_currency = "+b.add(strings.ToLower(cur))+" AND at_risk_amount >= "+b.add(f.MinAtRisk[cur])+")")
		}
		where = append(where, "("+strings.Join(ors, " OR ")+")")
	}
	if !f.Since.IsZero() {
		where = append(where, sinceExpr+" >= "+b.add(db.timeArg(f.Since)))
	}
	if !f.Until.IsZero() {
		where = append(where, sinceExpr+" <= "+b.add(db.timeArg(f.Until)))
	}
	if len(where) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(where, " AND ")
}

// keyRow is a case and the values of its sort keys.
type keyRow struct {
	discrepancyRow
	K0 any `db:"k0"`
	K1 any `db:"k1"`
	K2 any `db:"k2"`
	K3 any `db:"k3"`
}

func (r keyRow) keys(n int) []string {
	out := make([]string, n)
	for i, v := range []any{r.K0, r.K1, r.K2, r.K3}[:n] {
		switch v := v.(type) {
		case time.Time:
			out[i] = storedTime(v).Format(time.RFC3339Nano)
		case []byte:
			out[i] = string(v)
		case string:
			out[i] = v
		case int64:
			out[i] = strconv.FormatInt(v, 10)
		default:
			out[i] = fmt.Sprint(v)
		}
	}
	return out
}

// Cases returns one page of the cases f selects, in f's order, and the
// cursor of the next page ("" after the last). A cursor of another order,
// or one this store did not give, is an error wrapping reconcile.ErrInvalid.
func (db *DB) Cases(ctx context.Context, f reconcile.CaseFilter) (reconcile.CasePage, error) {
	sortBy := f.Sort
	if !sortBy.Valid() {
		sortBy = reconcile.SortWorst
	}
	desc := f.Desc && sortBy != reconcile.SortWorst
	keys := sortKeys(sortBy, desc)
	b := newBinder(db.dialect)
	cond := db.caseWhere(b, f)
	if f.Cursor != "" {
		c, err := decodeCursor(f.Cursor)
		if err != nil {
			return reconcile.CasePage{}, err
		}
		if c.Sort != sortBy || c.Desc != desc || len(c.Keys) != len(keys) {
			return reconcile.CasePage{}, fmt.Errorf("the cursor belongs to another order: %w", reconcile.ErrInvalid)
		}
		var ors []string
		for i, k := range keys {
			var ands []string
			for j := range i {
				ands = append(ands, keys[j].expr+" = "+db.bindKey(b, keys[j], c.Keys[j]))
			}
			op := " > "
			if k.desc {
				op = " < "
			}
			ands = append(ands, k.expr+op+db.bindKey(b, k, c.Keys[i]))
			ors = append(ors, "("+strings.Join(ands, " AND ")+")")
		}
		after := "(" + strings.Join(ors, " OR ") + ")"
		if cond == "" {
			cond = " WHERE " + after
		} else {
			cond += " AND " + after
		}
	}
	var sel, order []string
	for i, k := range keys {
		sel = append(sel, fmt.Sprintf("%s AS k%d", k.expr, i))
		dir := " ASC"
		if k.desc {
			dir = " DESC"
		}
		order = append(order, k.expr+dir)
	}
	for i := len(keys); i < 4; i++ {
		sel = append(sel, fmt.Sprintf("NULL AS k%d", i))
	}
	limit := f.PageLimit()
	q := "SELECT " + discrepancyColumns + ", " + strings.Join(sel, ", ") + " FROM discrepancies" + cond +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT " + b.add(limit+1)
	var rows []keyRow
	if err := db.db.SelectContext(ctx, &rows, q, b.args...); err != nil {
		return reconcile.CasePage{}, fmt.Errorf("list cases: %w", err)
	}
	var page reconcile.CasePage
	if len(rows) > limit {
		rows = rows[:limit]
		page.NextCursor = cursor{Sort: sortBy, Desc: desc, Keys: rows[limit-1].keys(len(keys))}.encode()
	}
	page.Cases = make([]reconcile.Discrepancy, len(rows))
	for i, r := range rows {
		page.Cases[i] = r.discrepancy()
	}
	return page, nil
}

// Tally counts the cases f selects (its sort, limit and cursor aside) by
// kind, currency at risk and ageing bucket (reconcile.AgeBucket at now,
// from when the problem began), with their money at risk.
func (db *DB) Tally(ctx context.Context, f reconcile.CaseFilter, now time.Time) ([]reconcile.CaseTally, error) {
	b := newBinder(db.dialect)
	bucket := "CASE WHEN " + sinceExpr + " >= " + b.add(db.timeArg(now.Add(-7*24*time.Hour))) + " THEN " + b.add(reconcile.AgeWeek) +
		" WHEN " + sinceExpr + " >= " + b.add(db.timeArg(now.Add(-30*24*time.Hour))) + " THEN " + b.add(reconcile.AgeMonth) +
		" WHEN " + sinceExpr + " >= " + b.add(db.timeArg(now.Add(-90*24*time.Hour))) + " THEN " + b.add(reconcile.AgeQuarter) +
		" ELSE " + b.add(reconcile.AgeOlder) + " END"
	if db.dialect == DialectPostgres {
		// One type for the bucket names PostgreSQL cannot infer.
		bucket = "(" + bucket + ")::text"
	}
	cond := db.caseWhere(b, reconcile.CaseFilter{Statuses: f.Statuses, Kinds: f.Kinds, CustomerID: f.CustomerID,
		Query: f.Query, MinAtRisk: f.MinAtRisk, Since: f.Since, Until: f.Until})
	q := "SELECT kind, COALESCE(at_risk_currency, '') AS currency, bucket, count(*) AS cases, COALESCE(sum(at_risk_amount), 0) AS at_risk FROM (" +
		"SELECT kind, at_risk_currency, at_risk_amount, " + bucket + " AS bucket FROM discrepancies" + cond +
		") t GROUP BY kind, COALESCE(at_risk_currency, ''), bucket ORDER BY kind, currency, bucket"
	var rows []struct {
		Kind     string `db:"kind"`
		Currency string `db:"currency"`
		Bucket   string `db:"bucket"`
		Cases    int    `db:"cases"`
		AtRisk   int64  `db:"at_risk"`
	}
	if err := db.db.SelectContext(ctx, &rows, q, b.args...); err != nil {
		return nil, fmt.Errorf("tally cases: %w", err)
	}
	out := make([]reconcile.CaseTally, len(rows))
	for i, r := range rows {
		out[i] = reconcile.CaseTally{Kind: reconcile.Kind(r.Kind), Currency: r.Currency, Bucket: r.Bucket, Cases: r.Cases, AtRisk: r.AtRisk}
	}
	return out, nil
}

// Currencies lists the currencies money is at risk in, for the page's
// amount filter.
func (db *DB) Currencies(ctx context.Context) ([]string, error) {
	var out []string
	err := db.db.SelectContext(ctx, &out, "SELECT DISTINCT at_risk_currency FROM discrepancies WHERE at_risk_currency IS NOT NULL AND at_risk_currency <> '' ORDER BY at_risk_currency")
	if err != nil {
		return nil, fmt.Errorf("list currencies: %w", err)
	}
	return out, nil
}
