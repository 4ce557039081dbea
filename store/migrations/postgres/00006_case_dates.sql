-- +goose Up
-- What the finance page sorts, searches and ages cases by, written by
-- FinishRun from what the run found (reconcile.Discrepancy):
-- refund_at is the refund's own date, problem_since when the problem began
-- (null: unknown, first_seen_at stands in), at_risk_* is reconcile.AtRisk
-- (null until computed: Migrate fills rows written before this migration).
ALTER TABLE discrepancies ADD COLUMN payment_intent_id text;
ALTER TABLE discrepancies ADD COLUMN refund_at timestamptz;
ALTER TABLE discrepancies ADD COLUMN problem_since timestamptz;
ALTER TABLE discrepancies ADD COLUMN at_risk_amount bigint;
ALTER TABLE discrepancies ADD COLUMN at_risk_currency text;
CREATE INDEX discrepancies_ledger_refund_id_idx ON discrepancies (ledger_refund_id text_pattern_ops);
CREATE INDEX discrepancies_charge_id_idx ON discrepancies (charge_id text_pattern_ops);
CREATE INDEX discrepancies_payment_intent_id_idx ON discrepancies (payment_intent_id text_pattern_ops);
CREATE INDEX discrepancies_customer_prefix_idx ON discrepancies (customer_id text_pattern_ops);
CREATE INDEX discrepancy_events_at_idx ON discrepancy_events (at);

-- +goose Down
DROP INDEX discrepancy_events_at_idx;
DROP INDEX discrepancies_customer_prefix_idx;
DROP INDEX discrepancies_payment_intent_id_idx;
DROP INDEX discrepancies_charge_id_idx;
DROP INDEX discrepancies_ledger_refund_id_idx;
ALTER TABLE discrepancies DROP COLUMN at_risk_currency;
ALTER TABLE discrepancies DROP COLUMN at_risk_amount;
ALTER TABLE discrepancies DROP COLUMN problem_since;
ALTER TABLE discrepancies DROP COLUMN refund_at;
ALTER TABLE discrepancies DROP COLUMN payment_intent_id;
