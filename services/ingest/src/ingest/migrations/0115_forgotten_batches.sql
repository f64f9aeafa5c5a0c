-- The batches a Sandpit reset forgot: an outcome of one delivered again (ingest stopped, or its consumer's
-- partitions moved, before its offsets were stored) must not bring the batch's view back.
CREATE TABLE IF NOT EXISTS forgotten_batches (
    batch_id     uuid PRIMARY KEY,
    forgotten_at timestamptz NOT NULL DEFAULT now()
);
