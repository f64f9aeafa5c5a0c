-- When Kafka took a Sandpit reset: null while it has not (the publish failed or timed out, and Kafka may or may
-- not hold it), and ingest publishes it again until it does. Before this a failed publish deleted the reset, so
-- every reset stored until now was queued.
ALTER TABLE sandpit_resets ADD COLUMN queued_at timestamptz;
UPDATE sandpit_resets SET queued_at = requested_at;
CREATE INDEX sandpit_resets_not_queued ON sandpit_resets (requested_at) WHERE queued_at IS NULL AND status = 'pending';
