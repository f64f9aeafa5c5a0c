-- The batch of the event a retry or skip acted on (its provenance, as the parked row names it: migration 0008 of the
-- plr schema), so that a skipped event of a decided batch is tied back to the batch: the batch still counts the record
-- accepted, yet it never reached the learner's record (reconcile walk, finding 1). NULL for any other event, and for
-- the actions recorded before this column.
ALTER TABLE dead_letter_actions ADD COLUMN IF NOT EXISTS batch_id uuid;
