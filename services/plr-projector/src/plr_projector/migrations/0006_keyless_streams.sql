-- A message without a key (or with an empty one) is a stream of its own, named after its position (`projection.stream_of`,
-- decision 0125). Parked before, it was named '': one stream for every keyless message of its topic,
-- which no operator could name to retry or skip. Those held behind a keyless poison stay parked, each
-- now its own stream, until an operator retries it.
UPDATE parked SET park_key = 'keyless:' || topic || ':' || partition || ':' || "offset" WHERE message_key IS NULL OR message_key = '';
