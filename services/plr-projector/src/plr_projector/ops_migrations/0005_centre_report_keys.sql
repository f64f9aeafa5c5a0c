-- The Idempotency-Keys of centre reports: a key sent again with the same report answers its report id
-- again, with another report it is refused (409). Here, outside the read-model schema, because nothing on
-- the log says which key a report came with: a rebuild switch must not forget them.
CREATE TABLE centre_report_keys (
    provider_ukprn  text NOT NULL,
    idempotency_key text NOT NULL,
    request_sha256  text NOT NULL,
    report_id       uuid NOT NULL,
    event_id        uuid NOT NULL,
    -- where the report went on the PLR log; NULL until it is there (the log was unavailable, say)
    partition       integer,
    "offset"        bigint,
    first_used_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (provider_ukprn, idempotency_key)
);
