-- +goose Up
-- The fence of the reconciliation lock. The advisory lock lives on a session
-- that can die while its holder still works; so every holder also bumps the
-- generation of its lock's row when it takes the lock, and a run records its
-- outcome only if the row still carries its generation (checked, under the
-- row's lock, in FinishRun's own transaction). See store/lock.go.
CREATE TABLE locks (
    name        text PRIMARY KEY,
    owner       text NOT NULL,
    acquired_at timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    generation  bigint NOT NULL DEFAULT 0
);

-- +goose Down
DROP TABLE locks;
