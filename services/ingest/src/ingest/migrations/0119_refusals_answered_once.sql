-- A file refused under an Idempotency-Key is answered once: the same file sent again under the same key is answered
-- with its first refusal (`Idempotent-Replay: true`) instead of filing another. `refusal_key` names the key and the
-- file (`ingest.submission.refusal_key`); NULL for a refusal filed without a key, by an operator before the file named
-- its AO, or before this was kept (those may repeat). A refused file does not hold its key: a corrected file under it
-- is a new batch, whose `dedup_key` this index does not touch.
ALTER TABLE batches ADD COLUMN refusal_key text;
CREATE UNIQUE INDEX batches_refusal_key ON batches (ao_id, refusal_key) WHERE refusal_key IS NOT NULL;
