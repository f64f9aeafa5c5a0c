-- The learner outbox follows the shared outbox shape (lrs_platform.outbox).
ALTER TABLE learner_outbox RENAME COLUMN uln TO partition_key;
