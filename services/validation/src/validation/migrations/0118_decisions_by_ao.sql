-- An AO's stored decisions, which a Sandpit reset deletes (`validation.sandpit`): found by a scan of
-- every decision stored (one row a batch, ~1-2 MB of messages each) while the reset held the AO's lock.
CREATE INDEX IF NOT EXISTS decisions_by_ao ON decisions (ao_id);
