-- +goose Up
-- See migrations/postgres/00005_case_dates.sql. Timestamps are TEXT as in
-- 00001.
ALTER TABLE discrepancies ADD COLUMN payment_intent_id TEXT;
ALTER TABLE discrepancies ADD COLUMN refund_at TEXT;
ALTER TABLE discrepancies ADD COLUMN problem_since TEXT;
ALTER TABLE discrepancies ADD COLUMN at_risk_amount INTEGER;
ALTER TABLE discrepancies ADD COLUMN at_risk_currency TEXT;
CREATE INDEX discrepancies_ledger_refund_id_idx ON discrepancies (ledger_refund_id);
CREATE INDEX discrepancies_charge_id_idx ON discrepancies (charge_id);
CREATE INDEX discrepancies_payment_intent_id_idx ON discrepancies (payment_intent_id);
CREATE INDEX discrepancy_events_at_idx ON discrepancy_events (at);

-- +goose Down
DROP INDEX discrepancy_events_at_idx;
DROP INDEX discrepancies_payment_intent_id_idx;
DROP INDEX discrepancies_charge_id_idx;
DROP INDEX discrepancies_ledger_refund_id_idx;
ALTER TABLE discrepancies DROP COLUMN at_risk_currency;
ALTER TABLE discrepancies DROP COLUMN at_risk_amount;
ALTER TABLE discrepancies DROP COLUMN problem_since;
ALTER TABLE discrepancies DROP COLUMN refund_at;
ALTER TABLE discrepancies DROP COLUMN payment_intent_id;
