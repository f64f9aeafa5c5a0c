-- One row per decided batch: the system of record for the MI aggregates (faust keeps no state).
CREATE TABLE batch_facts (
    batch_id          uuid PRIMARY KEY,
    ao_id             text NOT NULL,
    period            text NOT NULL,
    completed         boolean NOT NULL,
    records_total     integer NOT NULL,
    records_accepted  integer NOT NULL,
    records_rejected  integer NOT NULL,
    failure_code      text,
    working_days      integer,
    recorded_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX batch_facts_by_period ON batch_facts (period, ao_id);

-- Rejected records per error code, per chunk of per-record results: a redelivered chunk adds nothing.
CREATE TABLE rejection_codes (
    batch_id     uuid NOT NULL,
    chunk_index  integer NOT NULL,
    code         text NOT NULL,
    records      integer NOT NULL,
    PRIMARY KEY (batch_id, chunk_index, code)
);
