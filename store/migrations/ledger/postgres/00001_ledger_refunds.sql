-- +goose Up
-- The contract's default ledger table. No CHECK constraint and every column
-- nullable: ledgers are messy, and finding bad rows is the reconciler's job.
-- IF NOT EXISTS: a ledger that already has this table keeps it.
CREATE TABLE IF NOT EXISTS ledger_refunds (
    id                text UNIQUE,
    customer_id       text,
    charge_id         text,
    payment_intent_id text,
    gateway_refund_id text,
    amount            bigint,
    currency          text,
    status            text,
    completed_at      timestamptz,
    created_at        timestamptz
);
CREATE INDEX IF NOT EXISTS ledger_refunds_completed_at_idx ON ledger_refunds (completed_at);
CREATE INDEX IF NOT EXISTS ledger_refunds_created_at_idx ON ledger_refunds (created_at);
CREATE INDEX IF NOT EXISTS ledger_refunds_customer_id_idx ON ledger_refunds (customer_id);
CREATE INDEX IF NOT EXISTS ledger_refunds_gateway_refund_id_idx ON ledger_refunds (gateway_refund_id);
CREATE INDEX IF NOT EXISTS ledger_refunds_charge_id_idx ON ledger_refunds (charge_id);
CREATE INDEX IF NOT EXISTS ledger_refunds_payment_intent_id_idx ON ledger_refunds (payment_intent_id);

-- +goose Down
DROP TABLE ledger_refunds;
