-- +goose Up
-- The contract's default ledger table; see migrations/ledger/postgres.
-- Timestamps are TEXT; the default ledger query compares them as text, so
-- they must be written as the store writes its own
-- (2006-01-02T15:04:05.000000Z, UTC), which InsertLedgerRefunds does.
CREATE TABLE IF NOT EXISTS ledger_refunds (
    id                TEXT UNIQUE,
    customer_id       TEXT,
    charge_id         TEXT,
    payment_intent_id TEXT,
    gateway_refund_id TEXT,
    amount            INTEGER,
    currency          TEXT,
    status            TEXT,
    completed_at      TEXT,
    created_at        TEXT
);
CREATE INDEX IF NOT EXISTS ledger_refunds_completed_at_idx ON ledger_refunds (completed_at);
CREATE INDEX IF NOT EXISTS ledger_refunds_created_at_idx ON ledger_refunds (created_at);
CREATE INDEX IF NOT EXISTS ledger_refunds_customer_id_idx ON ledger_refunds (customer_id);
CREATE INDEX IF NOT EXISTS ledger_refunds_gateway_refund_id_idx ON ledger_refunds (gateway_refund_id);
CREATE INDEX IF NOT EXISTS ledger_refunds_charge_id_idx ON ledger_refunds (charge_id);
CREATE INDEX IF NOT EXISTS ledger_refunds_payment_intent_id_idx ON ledger_refunds (payment_intent_id);

-- +goose Down
DROP TABLE ledger_refunds;
