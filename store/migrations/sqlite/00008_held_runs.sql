-- +goose Up
-- See the PostgreSQL migration of the same version. SQLite cannot alter a
-- CHECK constraint: the outbox is rebuilt with 'held' allowed and the held
-- column.
ALTER TABLE runs ADD COLUMN hold TEXT NOT NULL DEFAULT '' CHECK (hold IN ('', 'held', 'released', 'discarded'));
ALTER TABLE runs ADD COLUMN hold_new INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN hold_refunds INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN hold_by TEXT NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN hold_at TEXT;
ALTER TABLE runs ADD COLUMN hold_note TEXT NOT NULL DEFAULT '';
CREATE INDEX runs_held_idx ON runs (started_at) WHERE hold = 'held';

CREATE TABLE alert_outbox_new (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    dedup_key       TEXT NOT NULL UNIQUE,
    channel         TEXT NOT NULL,
    action          TEXT NOT NULL CHECK (action IN ('opened', 'updated', 'resolved', 'held')),
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
    last_error      TEXT NOT NULL DEFAULT '',
    held            INTEGER NOT NULL DEFAULT 0 CHECK (held IN (0, 1))
) STRICT;
INSERT INTO alert_outbox_new (id, dedup_key, channel, action, digest, discrepancy_id, cycle, run_id, actor, note,
    payload, created_at, attempts, next_attempt_at, locked_until, claim_token, delivered_at, last_error)
SELECT id, dedup_key, channel, action, digest, discrepancy_id, cycle, run_id, actor, note,
    payload, created_at, attempts, next_attempt_at, locked_until, claim_token, delivered_at, last_error
FROM alert_outbox;
DROP TABLE alert_outbox;
ALTER TABLE alert_outbox_new RENAME TO alert_outbox;
CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_discrepancy_idx ON alert_outbox (discrepancy_id, channel, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_held_idx ON alert_outbox (run_id) WHERE held = 1;

-- +goose Down
DROP INDEX alert_outbox_held_idx;
DROP INDEX runs_held_idx;
ALTER TABLE runs DROP COLUMN hold_note;
ALTER TABLE runs DROP COLUMN hold_at;
ALTER TABLE runs DROP COLUMN hold_by;
ALTER TABLE runs DROP COLUMN hold_refunds;
ALTER TABLE runs DROP COLUMN hold_new;
ALTER TABLE runs DROP COLUMN hold;
