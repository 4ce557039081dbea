// Package storetest opens real databases for tests of any package: a
// PostgreSQL schema of its own per test, from TEST_DATABASE_URL, or an SQLite
// file in the test's temporary directory. Everything is removed when the test
// ends.
//
// When TEST_DATABASE_URL is unset or PostgreSQL does not answer, the
// PostgreSQL helpers skip the test, except under CI=true, where they fail it:
// CI never skips the real database silently.
//
// It imports store and the standard library only.
package storetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/refundrecon/refundrecon/store"
)

// EnvURL names the variable holding the PostgreSQL URL tests connect to, as
// in postgres://root@127.0.0.1:5432/test?sslmode=disable.
const EnvURL = "TEST_DATABASE_URL"

// deadlineGrace is how long before go test's -timeout a Context ends, so
// that the test fails with the error of what it waited on rather than with
// go test's panic.
const deadlineGrace = 10 * time.Second

// Context returns a context for a test's database work that ends shortly
// before the test binary's deadline (go test -timeout), and never after a
// fixed time: a loaded machine makes a test slower, not wrong. Without a
// deadline (-timeout 0) it never ends. Unlike t.Context it is not canceled
// before t's cleanups run, so cleanups may use it too; call cancel when done.
func Context(t testing.TB) (context.Context, context.CancelFunc) {
	if d, ok := t.(interface{ Deadline() (time.Time, bool) }); ok {
		if deadline, ok := d.Deadline(); ok {
			return context.WithDeadline(context.Background(), deadline.Add(-deadlineGrace))
		}
	}
	return context.WithCancel(context.Background())
}

// unavailable skips t, or fails it under CI=true.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("storetest: "+format+" (CI=true: PostgreSQL tests must run)", args...)
	}
	t.Skipf("storetest: "+format, args...)
}

// PostgresURL creates an empty schema for t in the database of
// TEST_DATABASE_URL and returns a URL whose connections use it (search_path).
// The schema is dropped when t ends.
func PostgresURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv(EnvURL)
	if base == "" {
		unavailable(t, "%s is not set", EnvURL)
	}
	ctx, cancel := Context(t)
	defer cancel()
	admin, err := store.Open(ctx, base)
	if err != nil {
		unavailable(t, "PostgreSQL at %s does not answer: %v", store.Redact(base), err)
	}
	if admin.Dialect() != store.DialectPostgres {
		admin.Close()
		t.Fatalf("storetest: %s is not a PostgreSQL URL: %s", EnvURL, store.Redact(base))
	}
	schema := "test_" + randomHex(8)
	if _, err := admin.SQLX().ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		admin.Close()
		t.Fatalf("storetest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := Context(t)
		defer cancel()
		if _, err := admin.SQLX().ExecContext(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("storetest: drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("storetest: parse %s: %v", EnvURL, err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// Postgres returns a migrated store, ledger_refunds included, in a schema of
// its own for t. It is closed and dropped when t ends.
func Postgres(t testing.TB) *store.DB {
	t.Helper()
	return openMigrated(t, PostgresURL(t))
}

// SQLiteURL returns the URL of a new SQLite database file in t's temporary
// directory.
func SQLiteURL(t testing.TB) string {
	t.Helper()
	return "sqlite:" + filepath.Join(t.TempDir(), "refundrecon.db")
}

// SQLite returns a migrated store, ledger_refunds included, in an SQLite
// file of t's temporary directory. It is closed when t ends.
func SQLite(t testing.TB) *store.DB {
	t.Helper()
	return openMigrated(t, SQLiteURL(t))
}

// Open opens databaseURL for t and closes it when t ends.
func Open(t testing.TB, databaseURL string) *store.DB {
	t.Helper()
	ctx, cancel := Context(t)
	defer cancel()
	db, err := store.Open(ctx, databaseURL)
	if err != nil {
		t.Fatalf("storetest: open: %v", err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func openMigrated(t testing.TB, databaseURL string) *store.DB {
	t.Helper()
	db := Open(t, databaseURL)
	ctx, cancel := Context(t)
	defer cancel()
	if err := db.Migrate(ctx); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	if err := db.MigrateLedger(ctx); err != nil {
		t.Fatalf("storetest: %v", err)
	}
	return db
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
