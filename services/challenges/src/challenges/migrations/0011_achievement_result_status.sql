-- Whether an achievement's result was Provisional or Final (decision 0183): the record appends each
-- achievement's status, as the log last said it, beside its facts (a withdrawal or reinstatement says none),
-- stamped with its poll's number as they are; and a challenge keeps the status it had when it was raised
-- (NULL for one raised before: its event carries none).
CREATE TABLE achievement_statuses (
    achievement_id uuid NOT NULL,
    status         text NOT NULL,
    applied_in     bigint NOT NULL
);
CREATE INDEX achievement_statuses_by_id ON achievement_statuses USING hash (achievement_id);
ALTER TABLE challenges ADD COLUMN result_status text;

-- The record reads the log again from its beginning to learn the statuses of the achievements already on it,
-- as migration 0008 did for their facts: until it has caught up, a raise on an achievement it has not re-read
-- waits for it, then answers 503 PROJECTION_PENDING. The batches it touched are read again with them (kept,
-- each would be there twice). Merges, erasures and parked messages are kept: applying them again changes
-- nothing.
TRUNCATE achievements_on_record, batch_touches;
DELETE FROM log_positions;
