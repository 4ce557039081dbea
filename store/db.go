package store

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jmoiron/sqlx"
	_ "github.com/lib/pq"  // registers the "postgres" driver
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/refundrecon/refundrecon/reconcile"
)

// The dialects Dialect reports.
const (
	DialectPostgres = "postgres"
	DialectSQLite   = "sqlite"
)

// DB is refundrecon's database: PostgreSQL or SQLite behind sqlx. It is safe
// for concurrent use.
type DB struct {
	db      *sqlx.DB
	dialect string
	// now stamps writes whose run carries no time.
	now func() time.Time
	// alerts are the channels the outbox enqueues for (outbox.go).
	alerts outboxConfig
}

var _ reconcile.Store = (*DB)(nil)

// Open connects to databaseURL and checks that the database answers.
// postgres:// and postgresql:// URLs use lib/pq; sqlite:PATH and file:PATH
// use the embedded SQLite with WAL, a busy timeout, foreign keys and a
// single connection, so that there is one writer. Any other scheme is an
// error wrapping reconcile.ErrConfig. Errors never contain the URL's
// password.
//
// On SQLite the single connection means a callback of Ledger.Refunds must not
// use the same DB: the connection is busy streaming rows.
func Open(ctx context.Context, databaseURL string) (*DB, error) {
	scheme, _, _ := strings.Cut(databaseURL, ":")
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		return openPostgres(ctx, databaseURL)
	case "sqlite", "file":
		return openSQLite(ctx, databaseURL)
	}
	return nil, fmt.Errorf("open database %s: unsupported scheme (want postgres://, postgresql://, sqlite:PATH or file:PATH): %w",
		Redact(databaseURL), reconcile.ErrConfig)
}

func openPostgres(ctx context.Context, databaseURL string) (*DB, error) {
	if _, err := url.Parse(databaseURL); err != nil {
		return nil, fmt.Errorf("open database %s: %w: %w", Redact(databaseURL), scrubError(err, databaseURL), reconcile.ErrConfig)
	}
	db, err := sqlx.Open("postgres", databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(databaseURL), scrubError(err, databaseURL))
	}
	// A few connections are plenty for one reconciler; cmd may tune SQLX().
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(5)
	db.SetConnMaxIdleTime(5 * time.Minute)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("connect to database %s: %w", Redact(databaseURL), scrubError(err, databaseURL))
	}
	return &DB{db: db, dialect: DialectPostgres, now: time.Now}, nil
}

// sqliteDefaults are the connection settings added to a SQLite URL unless it
// sets the same key (or the same pragma) itself. _txlock=immediate makes
// every transaction take the write lock at BEGIN, so that a second process
// waits for busy_timeout instead of failing to upgrade a read lock.
var sqliteDefaults = []struct{ key, value, name string }{
	{"_pragma", "busy_timeout(10000)", "busy_timeout"},
	{"_pragma", "journal_mode(WAL)", "journal_mode"},
	{"_pragma", "foreign_keys(1)", "foreign_keys"},
	{"_pragma", "synchronous(NORMAL)", "synchronous"},
	{"_txlock", "immediate", "_txlock"},
}

// sqliteDSN turns sqlite:PATH or file:PATH (each with an optional ?query)
// into a modernc.org/sqlite data source name with the defaults added.
func sqliteDSN(databaseURL string) (string, error) {
	scheme, rest, _ := strings.Cut(databaseURL, ":")
	path, query, _ := strings.Cut(rest, "?")
	if strings.EqualFold(scheme, "sqlite") && strings.HasPrefix(path, "//") {
		path = path[2:] // sqlite:///abs/path and sqlite://rel/path
	}
	if path == "" {
		return "", fmt.Errorf("sqlite URL %q has no path: %w", databaseURL, reconcile.ErrConfig)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		return "", fmt.Errorf("sqlite URL %q: %v: %w", databaseURL, err, reconcile.ErrConfig)
	}
	for _, d := range sqliteDefaults {
		if d.key != "_pragma" {
			if !q.Has(d.key) {
				q.Set(d.key, d.value)
			}
			continue
		}
		set := false
		for _, p := range q["_pragma"] {
			if strings.HasPrefix(strings.ToLower(strings.TrimSpace(p)), d.name) {
				set = true
			}
		}
		if !set {
			q.Add("_pragma", d.value)
		}
	}
	if strings.EqualFold(scheme, "file") {
		// A SQLite URI: the driver passes it, query and all, to SQLite.
		return "file:" + path + "?" + q.Encode(), nil
	}
	// A plain file name: the driver strips the query before opening.
	return path + "?" + q.Encode(), nil
}

func openSQLite(ctx context.Context, databaseURL string) (*DB, error) {
	dsn, err := sqliteDSN(databaseURL)
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	db, err := sqlx.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("open database %s: %w", Redact(databaseURL), err)
	}
	// One connection: SQLite has one writer anyway, and a single connection
	// also keeps an in-memory database (sqlite::memory:) alive and shared.
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	db.SetConnMaxIdleTime(0)
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open database %s: %w", Redact(databaseURL), err)
	}
	return &DB{db: db, dialect: DialectSQLite, now: time.Now}, nil
}

// Close closes the database.
func (db *DB) Close() error { return db.db.Close() }

// Ping checks that the database answers; serve's /readyz uses it.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.db.PingContext(ctx); err != nil {
		return fmt.Errorf("ping database: %w", err)
	}
	return nil
}

// Dialect reports "postgres" or "sqlite".
func (db *DB) Dialect() string { return db.dialect }

// SQLX returns the underlying handle, for tests, benchmarks and pool tuning.
func (db *DB) SQLX() *sqlx.DB { return db.db }

// redactedPassword replaces a password in Redact's output.
const redactedPassword = "xxxxx"

var passwordParam = regexp.MustCompile(`(?i)\b((?:ssl)?password)=('(?:[^'\\]|\\.)*'|[^&\s]*)`)

// Redact returns databaseURL without its password, for logs and errors: the
// password of the user information becomes "xxxxx", and so does the value of
// a password= or sslpassword= parameter. It works on URLs that do not parse,
// taking everything up to the last "@" as user information, so that it errs
// towards hiding too much.
func Redact(databaseURL string) string {
	s := databaseURL
	prefix, rest := "", s
	if i := strings.Index(s, "://"); i >= 0 {
		prefix, rest = s[:i+3], s[i+3:]
	} else if scheme, _, _ := strings.Cut(s, ":"); strings.EqualFold(scheme, "sqlite") || strings.EqualFold(scheme, "file") {
		rest = "" // a file name has no user information
		prefix = s
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		userinfo := rest[:at]
		if c := strings.Index(userinfo, ":"); c >= 0 {
			rest = userinfo[:c+1] + redactedPassword + rest[at:]
		}
	}
	return passwordParam.ReplaceAllString(prefix+rest, "${1}="+redactedPassword)
}

// secrets lists the strings of databaseURL that must not appear in an error:
// the password as written and decoded, and password parameters.
func secrets(databaseURL string) []string {
	var out []string
	rest := databaseURL
	if i := strings.Index(rest, "://"); i >= 0 {
		rest = rest[i+3:]
	}
	if at := strings.LastIndex(rest, "@"); at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
			out = append(out, pw)
			if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
				out = append(out, dec)
			}
		}
	}
	for _, m := range passwordParam.FindAllStringSubmatch(databaseURL, -1) {
		if v := strings.Trim(m[2], "'"); v != "" {
			out = append(out, v)
			if dec, err := url.QueryUnescape(v); err == nil && dec != v {
				out = append(out, dec)
			}
		}
	}
	return out
}

// scrubError returns err, or when its text holds the URL or a secret of it,
// a plain error with them replaced. Drivers quote the whole URL when it does
// not parse.
func scrubError(err error, databaseURL string) error {
	msg := err.Error()
	clean := strings.ReplaceAll(msg, databaseURL, Redact(databaseURL))
	for _, s := range secrets(databaseURL) {
		clean = strings.ReplaceAll(clean, s, redactedPassword)
	}
	if clean == msg {
		return err
	}
	// Keep shutdowns and timeouts recognisable without keeping err itself.
	for _, sentinel := range []error{context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, sentinel) {
			return fmt.Errorf("%s: %w", clean, sentinel)
		}
	}
	return errors.New(clean)
}
