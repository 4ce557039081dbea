-- +goose Up
-- The alert outbox and the cycle of migrations/postgres/00002_alerts.sql.
ALTER TABLE discrepancies ADD COLUMN cycle INTEGER NOT NULL DEFAULT 1;

CREATE TABLE alert_outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('opened', 'resolved')),
    digest          INTEGER NOT NULL DEFAULT 0 CHECK (digest IN (0, 1)),
    discrepancy_id  TEXT REFERENCES discrepancies (id),  -- null for a digest
    cycle           INTEGER NOT NULL DEFAULT 0,          -- 0 for a digest
    run_id          TEXT,                                -- null for a person's resolve
    actor           TEXT NOT NULL,
    note            TEXT NOT NULL DEFAULT '',
    payload         TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    locked_until    TEXT,
    claim_token     TEXT,
    delivered_at    TEXT,
    last_error      TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_discrepancy_idx ON alert_outbox (discrepancy_id, channel, id) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE alert_outbox;
ALTER TABLE discrepancies DROP COLUMN cycle;
