-- The merged learners by their own ULN, beside `learners_by_master` (by the ULN each was merged into):
-- a batch's look-up (`reference_store._LEARNERS_FOR`) finds the merged learners among its names, and
-- those merged into one of them, by a probe of each index per name, so its work follows the batch, not
-- the number of merged learners in the registry (decision 0117).
CREATE INDEX IF NOT EXISTS learners_merged ON learners (uln) WHERE master_uln IS NOT NULL;

-- A learner's rows of the outbox, which an erasure deletes once relayed: found by a scan of every row
-- the outbox ever relayed (~0.6 s at 5M rows, in the erasure's transaction).
CREATE INDEX IF NOT EXISTS learner_outbox_by_learner ON learner_outbox (partition_key);
