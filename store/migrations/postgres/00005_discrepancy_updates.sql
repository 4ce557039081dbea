-- +goose Up
-- A case keeps its id while its kind or amounts change (identity by
-- subject, reconcile/lifecycle.go): fingerprint now holds the subject
-- ("ledger:…", "gateway:…", "row:…"; older rows keep their old form and are
-- matched by their columns). updates counts a case's changes, so that each
-- one sends its discrepancy.updated once: the outbox key is
-- discrepancy:channel:updated:cycle.updates.
ALTER TABLE discrepancies ADD COLUMN updates integer NOT NULL DEFAULT 0;
CREATE INDEX discrepancies_ledger_refund_idx ON discrepancies (ledger_refund_id);
ALTER TABLE alert_outbox DROP CONSTRAINT alert_outbox_action_check;
ALTER TABLE alert_outbox ADD CONSTRAINT alert_outbox_action_check CHECK (action IN ('opened', 'updated', 'resolved'));

-- +goose Down
ALTER TABLE alert_outbox DROP CONSTRAINT alert_outbox_action_check;
ALTER TABLE alert_outbox ADD CONSTRAINT alert_outbox_action_check CHECK (action IN ('opened', 'resolved'));
DROP INDEX discrepancies_ledger_refund_idx;
ALTER TABLE discrepancies DROP COLUMN updates;
