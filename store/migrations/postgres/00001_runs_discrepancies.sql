-- +goose Up
-- One row per reconciliation: StartRun inserts it, FinishRun or FailRun
-- completes it.
CREATE TABLE runs (
    id              text PRIMARY KEY,
    status          text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed')),
    since           timestamptz,          -- null: the whole history
    until           timestamptz,
    customer_id     text,                 -- null: every customer
    started_at      timestamptz NOT NULL,
    finished_at     timestamptz,
    ledger_refunds  bigint NOT NULL DEFAULT 0,
    gateway_refunds bigint NOT NULL DEFAULT 0,
    matched         bigint NOT NULL DEFAULT 0,
    discrepancies   bigint NOT NULL DEFAULT 0,
    error           text NOT NULL DEFAULT ''
);
CREATE INDEX runs_started_at_idx ON runs (started_at);

-- One row per problem, named by reconcile.DiscrepancyID(fingerprint), so
-- that every run that sees the same problem updates the same row.
-- The run ids here and in discrepancy_events carry no foreign key: FinishRun
-- writes them for thousands of rows at once, where the per-row checks cost
-- more than the writes, and the same transaction records the run itself.
CREATE TABLE discrepancies (
    id                 text PRIMARY KEY,
    fingerprint        text NOT NULL UNIQUE,
    kind               text NOT NULL,
    status             text NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved')),
    customer_id        text,
    ledger_refund_id   text,
    gateway_refund_ids text NOT NULL DEFAULT '',  -- sorted, comma-joined
    charge_id          text,
    currency           text,
    gateway_currency   text,
    ledger_amount      bigint,
    gateway_amount     bigint,
    gateway_status     text,
    failure_reason     text,
    detail             text NOT NULL DEFAULT '',
    first_seen_at      timestamptz NOT NULL,
    last_seen_at       timestamptz NOT NULL,
    first_run_id       text NOT NULL,
    last_run_id        text NOT NULL,
    resolved_at        timestamptz,
    updated_at         timestamptz NOT NULL
);
CREATE INDEX discrepancies_status_customer_idx ON discrepancies (status, customer_id);
CREATE INDEX discrepancies_customer_id_idx ON discrepancies (customer_id);
CREATE INDEX discrepancies_kind_idx ON discrepancies (kind);
CREATE INDEX discrepancies_first_seen_idx ON discrepancies (first_seen_at DESC, id);

-- The audit trail: append-only, one row per change of a discrepancy's
-- status, by a run (actor refundrecon) or a person.
CREATE TABLE discrepancy_events (
    id             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    discrepancy_id text NOT NULL REFERENCES discrepancies (id),
    at             timestamptz NOT NULL,
    actor          text NOT NULL,
    action         text NOT NULL,
    from_status    text,                  -- null when opened
    to_status      text NOT NULL,
    note           text NOT NULL DEFAULT '',
    run_id         text
);
CREATE INDEX discrepancy_events_discrepancy_id_idx ON discrepancy_events (discrepancy_id, id);

-- +goose Down
DROP TABLE discrepancy_events;
DROP TABLE discrepancies;
DROP TABLE runs;
