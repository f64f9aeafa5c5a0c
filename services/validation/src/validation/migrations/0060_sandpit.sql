-- The Sandpit (decision 0060). Used only by a validation service with LRS_ENVIRONMENT=sandpit.

-- Each AO reset the decider applied, with the erasures it put on the PLR log: a reset met again (the
-- decider died before its Kafka transaction committed) publishes the same erasures.
CREATE TABLE sandpit_resets (
    reset_id     uuid PRIMARY KEY,
    ao_id        text NOT NULL,
    messages     bytea NOT NULL,
    applied_at   timestamptz NOT NULL DEFAULT now()
);

-- The Sandpit's copy of the live learner registry follows lrs.learner.events.v1: how far it has read,
-- and merges that arrived before one of their learners' registrations.
CREATE TABLE sandpit_registry_offsets (
    partition    integer PRIMARY KEY,
    next_offset  bigint NOT NULL
);
CREATE TABLE sandpit_pending_merges (
    master_uln   text NOT NULL,
    merged_uln   text NOT NULL,
    PRIMARY KEY (master_uln, merged_uln)
);
