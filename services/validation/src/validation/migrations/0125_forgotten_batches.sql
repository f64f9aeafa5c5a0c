-- The batches a Sandpit reset forgot (their decisions deleted with the AO's states): read again after the reset (a
-- rebalance or a restart re-reads from the offset the reset committed), each is known as decided, never decided
-- again against the emptied Sandpit. Those of resets stored before are taken from them.
CREATE TABLE IF NOT EXISTS forgotten_batches (
    batch_id     uuid PRIMARY KEY,
    forgotten_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO forgotten_batches (batch_id)
SELECT DISTINCT unnest(forgotten_batches) FROM sandpit_resets WHERE forgotten_batches IS NOT NULL
ON CONFLICT DO NOTHING;
