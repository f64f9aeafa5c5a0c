-- A decision's messages are needed until they are published (a decider killed before its Kafka commit
-- publishes the stored ones); a week after, `DecisionStore.forget_published_messages` sets them NULL: kept,
-- they were 167 bytes an accepted record, for ever. The row stays: it says the batch was decided, and how.
ALTER TABLE decisions ALTER COLUMN messages DROP NOT NULL;
