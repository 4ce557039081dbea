-- +goose Up
-- cycle counts a case's openings: 1 when first opened, one more each time a
-- run reopens it. Alerts are idempotent per discrepancy, channel, action and
-- cycle, so that a case that comes back alerts again, and only once.
ALTER TABLE discrepancies ADD COLUMN cycle integer NOT NULL DEFAULT 1;

-- The alert outbox: one row per alert to deliver, written in the same
-- transaction as the change it announces (FinishRun, a person's resolve),
-- delivered after the commit by the dispatcher (package alert).
-- dedup_key is discrepancy:channel:action:cycle, or run:channel:action:digest
-- for a channel that sends one digest for a run's many cases; the unique key
-- makes enqueueing idempotent.
-- A dispatcher claims a due row with a lease (locked_until, claim_token), so
-- that processes never send the same row at once, and a crash mid-send leaves
-- the row to be claimed again when the lease ends.
CREATE TABLE alert_outbox (
    id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    dedup_key       text NOT NULL UNIQUE,
    channel         text NOT NULL,
    action          text NOT NULL CHECK (action IN ('opened', 'resolved')),
    digest          boolean NOT NULL DEFAULT false,
    discrepancy_id  text REFERENCES discrepancies (id),  -- null for a digest
    cycle           integer NOT NULL DEFAULT 0,          -- 0 for a digest
    run_id          text,                                -- null for a person's resolve
    actor           text NOT NULL,
    note            text NOT NULL DEFAULT '',
    payload         text NOT NULL,  -- JSON: the case(s) as they stood when enqueued
    created_at      timestamptz NOT NULL,
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    locked_until    timestamptz,
    claim_token     text,
    delivered_at    timestamptz,
    last_error      text NOT NULL DEFAULT ''
);
CREATE INDEX alert_outbox_due_idx ON alert_outbox (next_attempt_at, id) WHERE delivered_at IS NULL;
CREATE INDEX alert_outbox_discrepancy_idx ON alert_outbox (discrepancy_id, channel, id) WHERE delivered_at IS NULL;

-- +goose Down
DROP TABLE alert_outbox;
ALTER TABLE discrepancies DROP COLUMN cycle;
