-- The batch of each parked event of a PLR batch (its provenance, or what its bytes name when it is parked
-- undecoded): an `after_batch` read says how many of the batch's events are held (`batch_events_held`). NULL
-- for any other event, and for those parked before this migration, whose bytes are not read again here: such
-- an event names its batch once it is parked again (a retry that leaves it parked, a rebuild).
ALTER TABLE parked ADD COLUMN batch_id uuid;
-- The count of one batch's (by the ULNs of a learner's read): an index-only scan of the batch's entries.
CREATE INDEX parked_by_batch ON parked (batch_id, park_key, event_id) WHERE batch_id IS NOT NULL;
