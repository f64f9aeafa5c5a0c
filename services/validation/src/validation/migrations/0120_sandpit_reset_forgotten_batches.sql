-- The batches whose decisions a Sandpit reset forgot, named in its SandpitResetApplied so ingest deletes
-- exactly their views (decision 0120); NULL for resets applied before.
ALTER TABLE sandpit_resets ADD COLUMN forgotten_batches uuid[];
