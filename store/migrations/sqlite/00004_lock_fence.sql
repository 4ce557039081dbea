-- +goose Up
-- The fence of the reconciliation lock: every takeover bumps the
-- generation, and a run records its outcome only if the row still carries
-- its owner and generation (checked in FinishRun's own transaction). See
-- store/lock.go.
ALTER TABLE locks ADD COLUMN generation INTEGER NOT NULL DEFAULT 0;

-- +goose Down
ALTER TABLE locks DROP COLUMN generation;
