-- +goose Up
-- The reconciliation lock on SQLite (PostgreSQL uses an advisory lock and
-- needs no table): one row per lock name, held by owner until expires_at.
-- The holder renews the lease while it works; a crashed holder's row expires
-- and the next process takes it over. See store/lock.go.
CREATE TABLE locks (
    name        TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    acquired_at TEXT NOT NULL,
    expires_at  TEXT NOT NULL
) STRICT;

-- +goose Down
DROP TABLE locks;
