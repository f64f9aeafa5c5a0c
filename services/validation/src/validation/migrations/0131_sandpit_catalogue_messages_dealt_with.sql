-- The messages of live's catalogue topic an operator dealt with in the Sandpit (decision 0060): a row its catalogue
-- follower (`validation.sandpit_catalogue`) could not read, parked, then skipped (`replacement` NULL) or retried with
-- a corrected copy (`replacement`, the copy as the retry applied it). The follower has no consumer group and reads the
-- topic again from its beginning at each start: it passes over a skipped message, and reads a corrected one as its
-- copy, rather than park it again and hold its key's later rows (the next load) behind it. A message is known by its
-- place on the log and the digest of the value parked (a topic made anew has other messages at the same places).
-- Written by an operator's `lrs --sandpit dlq skip|retry` only; empty on live.
CREATE TABLE sandpit_catalogue_dealt_with (
    topic         text NOT NULL,
    partition     integer NOT NULL,
    "offset"      bigint NOT NULL,
    value_sha256  bytea NOT NULL,
    replacement   bytea,
    dealt_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
