-- +goose Up
-- Held runs (ALERT_HOLD_NEW, reconcile/hold.go). A held run stays
-- 'succeeded' in status (it read and judged everything); hold says where its
-- hold stands: '' never held, 'held' waiting, 'released' or 'discarded' by
-- hold_by at hold_at. Its cases' alerts are in the outbox with held true,
-- never claimed until a release clears it; a discard deletes those of the
-- cases it resolves. One 'held' alert per channel announces the run.
ALTER TABLE runs ADD COLUMN hold text NOT NULL DEFAULT '' CHECK (hold IN ('', 'held', 'released', 'discarded'));
ALTER TABLE runs ADD COLUMN hold_new bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN hold_refunds bigint NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN hold_by text NOT NULL DEFAULT '';
ALTER TABLE runs ADD COLUMN hold_at timestamptz;
ALTER TABLE runs ADD COLUMN hold_note text NOT NULL DEFAULT '';
CREATE INDEX runs_held_idx ON runs (started_at) WHERE hold = 'held';
ALTER TABLE alert_outbox ADD COLUMN held boolean NOT NULL DEFAULT false;
CREATE INDEX alert_outbox_held_idx ON alert_outbox (run_id) WHERE held;
ALTER TABLE alert_outbox DROP CONSTRAINT alert_outbox_action_check;
ALTER TABLE alert_outbox ADD CONSTRAINT alert_outbox_action_check CHECK (action IN ('opened', 'updated', 'resolved', 'held'));

-- +goose Down
ALTER TABLE alert_outbox DROP CONSTRAINT alert_outbox_action_check;
ALTER TABLE alert_outbox ADD CONSTRAINT alert_outbox_action_check CHECK (action IN ('opened', 'updated', 'resolved'));
DROP INDEX alert_outbox_held_idx;
ALTER TABLE alert_outbox DROP COLUMN held;
DROP INDEX runs_held_idx;
ALTER TABLE runs DROP COLUMN hold_note;
ALTER TABLE runs DROP COLUMN hold_at;
ALTER TABLE runs DROP COLUMN hold_by;
ALTER TABLE runs DROP COLUMN hold_refunds;
ALTER TABLE runs DROP COLUMN hold_new;
ALTER TABLE runs DROP COLUMN hold;
