-- A file sent without an Idempotency-Key is the AO's earlier batch of the same content whatever key that batch was
-- sent with: looked up by content before every keyless submission, among the batches that still answer for their
-- file (a refused, failed keyless or abandoned batch has given up its dedup key).
CREATE INDEX batches_by_content ON batches (ao_id, content_sha256) WHERE dedup_key IS NOT NULL;
