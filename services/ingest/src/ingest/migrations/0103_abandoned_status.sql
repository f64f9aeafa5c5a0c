-- A batch validation gave up on (decision 0103) is `abandoned`; its row gives up its dedup key, so that
-- the same file (or Idempotency-Key) submitted again is a new batch.
ALTER TABLE batches DROP CONSTRAINT batches_status_check;
ALTER TABLE batches ADD CONSTRAINT batches_status_check
    CHECK (status IN ('received', 'accepted', 'validating', 'completed', 'failed', 'abandoned', 'refused'));
