-- +goose Up
-- The reconciliation lock needs no table on PostgreSQL: it is a session
-- advisory lock (see store/lock.go). This version exists so that both
-- dialects stand at the same schema version; SQLite's 00003 creates its
-- locks table.
SELECT 1;

-- +goose Down
SELECT 1;
