-- +goose Up
-- The mirror of the gateway's refunds an incremental sync keeps (see
-- reconcile.SyncedGateway and store/mirror.go): what matching needs of each
-- refund, and the sync cursors. Times are Unix seconds (created, failed_at:
-- Stripe's whole seconds; 0 = none) and Unix microseconds (the cursors).
CREATE TABLE gateway_refunds (
    id                TEXT PRIMARY KEY,
    charge_id         TEXT NOT NULL DEFAULT '',
    payment_intent_id TEXT NOT NULL DEFAULT '',
    customer_id       TEXT NOT NULL DEFAULT '',
    amount            BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    status            TEXT NOT NULL,
    failure_reason    TEXT NOT NULL DEFAULT '',
    ledger_refund_id  TEXT NOT NULL DEFAULT '',
    created           BIGINT NOT NULL,
    failed_at         BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX gateway_refunds_created ON gateway_refunds (created, id);

CREATE TABLE sync_cursors (
    name         TEXT PRIMARY KEY,
    synced_at    BIGINT NOT NULL,
    full_at      BIGINT NOT NULL,
    covered_from BIGINT NOT NULL
);

-- +goose Down
DROP TABLE sync_cursors;
DROP TABLE gateway_refunds;
