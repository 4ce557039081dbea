package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/refundrecon/refundrecon/reconcile"
	"github.com/refundrecon/refundrecon/store"
)

func TestRedact(t *testing.T) {
	tests := []struct{ in, want string }{
		{"postgres://app:s3cret@db.internal:5432/recon?sslmode=require", "postgres://app:xxxxx@db.internal:5432/recon?sslmode=require"},
		{"postgresql://app:p%40ss%2Fw0rd@db/recon", "postgresql://app:xxxxx@db/recon"},
		{"postgres://app:pa@ss/w#rd@db/recon", "postgres://app:xxxxx@db/recon"}, // does not parse as a URL
		{"postgres://app:12#34@db:5432/recon", "postgres://app:xxxxx@db:5432/recon"},
		{"postgres://app@db/recon?password=hunter22&sslmode=disable", "postgres://app@db/recon?password=xxxxx&sslmode=disable"},
		{"postgres://db/recon?sslpassword=keypass", "postgres://db/recon?sslpassword=xxxxx"},
		{"postgres://app@db/recon", "postgres://app@db/recon"},
		{"sqlite:refundrecon.db", "sqlite:refundrecon.db"},
		{"sqlite:/var/lib/a:b@c.db", "sqlite:/var/lib/a:b@c.db"},
		{"file:/tmp/x.db?mode=ro", "file:/tmp/x.db?mode=ro"},
		{"mysql://root:toor@host/db", "mysql://root:xxxxx@host/db"},
	}
	for _, tc := range tests {
		if got := store.Redact(tc.in); got != tc.want {
			t.Errorf("Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestOpenErrorsHidePasswords(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		url, password string
		config        bool
	}{
		{"mysql://root:toor-secret@127.0.0.1/db", "toor-secret", true},
		{"refundrecon.db", "", true},
		{"sqlite:", "", true},
		// Go's URL parser quotes a URL it rejects (here: a bad port).
		{"postgres://app:hunter2-secret@127.0.0.1:notaport/db?sslmode=disable", "hunter2-secret", true},
		// Nobody listens on port 1.
		{"postgres://app:hunter3-secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "hunter3-secret", false},
		{"postgres://app@127.0.0.1:1/db?sslmode=disable&password=hunter4-secret", "hunter4-secret", false},
	}
	for _, tc := range tests {
		db, err := store.Open(ctx, tc.url)
		if err == nil {
			db.Close()
			t.Errorf("Open(%q) succeeded", store.Redact(tc.url))
			continue
		}
		if tc.password != "" && strings.Contains(err.Error(), tc.password) {
			t.Errorf("Open error shows the password: %v", err)
		}
		if got := errors.Is(err, reconcile.ErrConfig); got != tc.config {
			t.Errorf("Open(%q) error %v: ErrConfig %v, want %v", store.Redact(tc.url), err, got, tc.config)
		}
	}
}

func TestOpenSQLite(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, u := range []string{
		"sqlite:" + filepath.Join(dir, "a.db"),
		"sqlite://" + filepath.Join(dir, "b.db"),
		"file:" + filepath.Join(dir, "c.db") + "?cache=private",
		"sqlite::memory:",
	} {
		db, err := store.Open(ctx, u)
		if err != nil {
			t.Errorf("Open(%q): %v", u, err)
			continue
		}
		if db.Dialect() != store.DialectSQLite {
			t.Errorf("Open(%q).Dialect() = %q", u, db.Dialect())
		}
		if err := db.Migrate(ctx); err != nil {
			t.Errorf("Open(%q).Migrate: %v", u, err)
		}
		var fk int
		if err := db.SQLX().GetContext(ctx, &fk, "PRAGMA foreign_keys"); err != nil || fk != 1 {
			t.Errorf("Open(%q): foreign_keys = %d, %v; want 1", u, fk, err)
		}
		var mode string
		if err := db.SQLX().GetContext(ctx, &mode, "PRAGMA journal_mode"); err != nil || (mode != "wal" && u != "sqlite::memory:") {
			t.Errorf("Open(%q): journal_mode = %q, %v; want wal", u, mode, err)
		}
		if err := db.Ping(ctx); err != nil {
			t.Errorf("Open(%q).Ping: %v", u, err)
		}
		db.Close()
	}
}
