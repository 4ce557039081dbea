-- +goose Up
-- The tables of migrations/postgres. Timestamps are TEXT in UTC, fixed width
-- with microseconds (2006-01-02T15:04:05.000000Z), so that comparing the text
-- compares the times; STRICT keeps anything else out.
CREATE TABLE runs (
    id              TEXT PRIMARY KEY,
    status          TEXT NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    since           TEXT,                 -- null: the whole history
    until           TEXT,
    customer_id     TEXT,                 -- null: every customer
    started_at      TEXT NOT NULL,
    finished_at     TEXT,
    ledger_refunds  INTEGER NOT NULL DEFAULT 0,
    gateway_refunds INTEGER NOT NULL DEFAULT 0,
    matched         INTEGER NOT NULL DEFAULT 0,
    discrepancies   INTEGER NOT NULL DEFAULT 0,
    error           TEXT NOT NULL DEFAULT ''
) STRICT;
CREATE INDEX runs_started_at_idx ON runs (started_at);

CREATE TABLE discrepancies (
    id                 TEXT PRIMARY KEY,
    fingerprint        TEXT NOT NULL UNIQUE,
    kind               TEXT NOT NULL,
    status             TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    customer_id        TEXT,
    ledger_refund_id   TEXT,
    gateway_refund_ids TEXT NOT NULL DEFAULT '',  -- sorted, comma-joined
    charge_id          TEXT,
    currency           TEXT,
    gateway_currency   TEXT,
    ledger_amount      INTEGER,
    gateway_amount     INTEGER,
    gateway_status     TEXT,
    failure_reason     TEXT,
    detail             TEXT NOT NULL DEFAULT '',
    first_seen_at      TEXT NOT NULL,
    last_seen_at       TEXT NOT NULL,
    first_run_id       TEXT NOT NULL,
    last_run_id        TEXT NOT NULL,
    resolved_at        TEXT,
    updated_at         TEXT NOT NULL
) STRICT;
CREATE INDEX discrepancies_status_customer_idx ON discrepancies (status, customer_id);
CREATE INDEX discrepancies_customer_id_idx ON discrepancies (customer_id);
CREATE INDEX discrepancies_kind_idx ON discrepancies (kind);
CREATE INDEX discrepancies_first_seen_idx ON discrepancies (first_seen_at DESC, id);

CREATE TABLE discrepancy_events (
    id             INTEGER PRIMARY KEY AUTOINCREMENT,
    discrepancy_id TEXT NOT NULL REFERENCES discrepancies (id),
    at             TEXT NOT NULL,
    actor          TEXT NOT NULL,
    action         TEXT NOT NULL,
    from_status    TEXT,                  -- null when opened
    to_status      TEXT NOT NULL,
    note           TEXT NOT NULL DEFAULT '',
    run_id         TEXT
) STRICT;
CREATE INDEX discrepancy_events_discrepancy_id_idx ON discrepancy_events (discrepancy_id, id);

-- +goose Down
DROP TABLE discrepancy_events;
DROP TABLE discrepancies;
DROP TABLE runs;
