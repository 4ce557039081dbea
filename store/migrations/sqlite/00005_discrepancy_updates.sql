-- +goose Up
-- See the PostgreSQL migration of the same version. SQLite cannot alter a
-- CHECK constraint: the outbox is rebuilt with 'updated' allowed.
ALTER TABLE discrepancies ADD COLUMN updates INTEGER NOT NULL DEFAULT 0;
CREATE INDEX discrepancies_ledger_refund_idx ON discrepancies (ledger_refund_id);

CREATE TABLE alert_outbox_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('opened', 'updated', 'resolved')),
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
INSERT INTO alert_outbox_new SELECT * FROM alert_outbox;
DROP TABLE alert_outbox;
ALTER TABLE alert_outbox_new RENAME TO alert_outbox;
CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_discrepancy_idx ON alert_outbox (discrepancy_id, channel, id) WHERE delivered_at IS NULL;

-- +goose Down
DROP INDEX discrepancies_ledger_refund_idx;
ALTER TABLE discrepancies DROP COLUMN updates;
