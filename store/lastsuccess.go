package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// LastSucceeded returns when the last successful run finished: of a window
// (every customer), or with customer set, of a one-customer check; zero when
// there is none. serve's metrics read it at scrape time, so that runs made
// by another process (a CronJob's `run`) count too.
func (db *DB) LastSucceeded(ctx context.Context, customer bool) (time.Time, error) {
	cond := "(customer_id IS NULL OR customer_id = '')"
	if customer {
		cond = "customer_id <> ''"
	}
	var t dbTime
	err := db.db.GetContext(ctx, &t, `SELECT finished_at FROM runs
WHERE status = 'succeeded' AND finished_at IS NOT NULL AND `+cond+`
ORDER BY finished_at DESC LIMIT 1`)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read last successful run: %w", err)
	}
	return t.Time, nil
}
