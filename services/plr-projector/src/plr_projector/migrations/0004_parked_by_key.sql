-- A stream's parked events by its key, in the order they are retried (`ReadModel.parked` with a key: an
-- operator's listing, retry and skip of a learner's stream). `parked_by_stream` leads with the topic, so
-- a key without a topic walked every parked event's entry (decision 0117).
CREATE INDEX parked_by_key ON parked (park_key, topic, partition, "offset");
