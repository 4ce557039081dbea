package storetest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/store"
)

// Dump returns every row of every table of db's schema (PostgreSQL: the
// connection's current schema; SQLite: the file's tables, SQLite's own
// sqlite_sequence included), as text, tables by name and rows sorted, for
// tests that assert that something changed no byte of state.
func Dump(t testing.TB, db *store.DB) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	x := db.SQLX()
	var tables []string
	q := `SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`
	if db.Dialect() == store.DialectPostgres {
		q = `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()
	AND table_type = 'BASE TABLE' ORDER BY table_name`
	}
	if err := x.SelectContext(ctx, &tables, q); err != nil {
		t.Fatalf("storetest: list tables: %v", err)
	}
	var sb strings.Builder
	for _, table := range tables {
		rows, err := x.QueryxContext(ctx, `SELECT * FROM `+table)
		if err != nil {
			t.Fatalf("storetest: dump %s: %v", table, err)
		}
		var lines []string
		for rows.Next() {
			vals, err := rows.SliceScan()
			if err != nil {
				rows.Close()
				t.Fatalf("storetest: dump %s: %v", table, err)
			}
			parts := make([]string, len(vals))
			for i, v := range vals {
				if b, ok := v.([]byte); ok {
					v = string(b)
				}
				parts[i] = fmt.Sprintf("%v", v)
			}
			lines = append(lines, strings.Join(parts, " | "))
		}
		if err := rows.Err(); err != nil {
			t.Fatalf("storetest: dump %s: %v", table, err)
		}
		rows.Close()
		slices.Sort(lines)
		fmt.Fprintf(&sb, "== %s (%d rows)\n%s\n", table, len(lines), strings.Join(lines, "\n"))
	}
	return sb.String()
}
