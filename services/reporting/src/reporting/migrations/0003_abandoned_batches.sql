-- Batches the decider gave up on (lrs.batch.abandoned.v1, decision 0105) are facts too: neither completed nor
-- failed, no records, no RS code. Rows from before were all decided, so they stay `false`.
ALTER TABLE batch_facts ADD COLUMN abandoned boolean NOT NULL DEFAULT false;
