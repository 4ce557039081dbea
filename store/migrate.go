package store

import (
	"context"
	"embed"
	"fmt"
	"hash/fnv"
	"io/fs"
	"path"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// migrations holds the versioned SQL: migrations/{postgres,sqlite} for the
// store's own tables and migrations/ledger/{postgres,sqlite} for the default
// ledger table. Each set has its own goose version table, so that the ledger
// table is created only on request and the two sets never interleave.
//
//go:embed migrations
var migrations embed.FS

// The goose version tables of the two migration sets.
const (
	versionTable       = "refundrecon_schema_migrations"
	ledgerVersionTable = "refundrecon_ledger_migrations"
)

// Migrate creates or upgrades the store's own tables (runs, discrepancies,
// discrepancy_events). It is idempotent. On PostgreSQL concurrent callers
// take turns on an advisory lock, one per schema, so that two processes
// starting at once do not both migrate.
func (db *DB) Migrate(ctx context.Context) error {
	if err := db.migrate(ctx, "migrations", versionTable); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	if err := db.fillAtRisk(ctx); err != nil {
		return fmt.Errorf("migrate store: %w", err)
	}
	return nil
}

// MigrateLedger creates the contract's default ledger table ledger_refunds
// and its indexes, for `migrate --with-ledger`, the demo and tests. It is
// idempotent, and keeps an existing ledger_refunds table.
func (db *DB) MigrateLedger(ctx context.Context) error {
	if err := db.migrate(ctx, "migrations/ledger", ledgerVersionTable); err != nil {
		return fmt.Errorf("migrate ledger table: %w", err)
	}
	return nil
}

// migrate runs the set in dir/<dialect> with goose's Provider: no goose
// globals, no logging, versions recorded in table.
func (db *DB) migrate(ctx context.Context, dir, table string) error {
	fsys, err := fs.Sub(migrations, path.Join(dir, db.dialect))
	if err != nil {
		return err
	}
	opts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithLogger(goose.NopLogger()),
		goose.WithTableName(table),
	}
	var dialect goose.Dialect
	switch db.dialect {
	case DialectPostgres:
		dialect = goose.DialectPostgres
		id, err := db.lockID(ctx, table)
		if err != nil {
			return err
		}
		// Retry every second for up to ten minutes: a migration that takes
		// longer is worth a look by a person anyway.
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 600))
		if err != nil {
			return err
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	case DialectSQLite:
		// One connection per process and _txlock=immediate: SQLite
		// serialises writers itself.
		dialect = goose.DialectSQLite3
	}
	p, err := goose.NewProvider(dialect, db.db.DB, fsys, opts...)
	if err != nil {
		return err
	}
	// p.Close would close db; the provider holds nothing else.
	_, err = p.Up(ctx)
	return err
}

// lockID is the advisory lock of one migration set in the current schema:
// processes migrating the same schema wait for each other, while tests in
// schemas of their own do not.
func (db *DB) lockID(ctx context.Context, table string) (int64, error) {
	var schema string
	if err := db.db.GetContext(ctx, &schema, "SELECT COALESCE(current_schema(), '')"); err != nil {
		return 0, fmt.Errorf("read current schema: %w", err)
	}
	h := fnv.New64a()
	fmt.Fprintf(h, "refundrecon\x00%s\x00%s", schema, table)
	return int64(h.Sum64()), nil
}
