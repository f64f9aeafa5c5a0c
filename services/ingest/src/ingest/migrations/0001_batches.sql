-- Every submission an AO made, accepted or refused, and what validation decided about it.
CREATE TABLE batches (
    batch_id         uuid PRIMARY KEY,
    ao_id            text,            -- NULL only for an operator's upload refused before its header was read
    submitted_by     text,            -- NULL for a batch known only from its outcome events
    status           text NOT NULL CHECK (status IN ('received', 'accepted', 'completed', 'failed', 'refused')),
    dedup_key        text,            -- 'key:<Idempotency-Key>' or 'sha256:<content>'; NULL when refused
    idempotency_key  text,
    content_sha256   text,
    format           text,
    size_bytes       bigint,
    record_count     integer,
    chunk_count      integer,
    job_type         text,
    batch_reference  text,
    refusal_code     text,
    refusal_detail   text,
    refusal_line     integer,
    refusal_column   integer,
    failure_code     text,
    failure_reason   text,
    total            integer,
    accepted         integer,
    rejected         integer,
    no_ops           integer,
    warnings         integer,
    received_at      timestamptz NOT NULL DEFAULT now(),
    accepted_at      timestamptz,
    decided_at       timestamptz,
    updated_at       timestamptz NOT NULL DEFAULT now()
);
-- One batch per AO and Idempotency-Key (or content): two racing submissions cannot both insert.
CREATE UNIQUE INDEX batches_dedup ON batches (ao_id, dedup_key) WHERE dedup_key IS NOT NULL;
CREATE INDEX batches_history_by_ao ON batches (ao_id, received_at DESC, batch_id DESC);
CREATE INDEX batches_history ON batches (received_at DESC, batch_id DESC);

-- Per-record outcomes from lrs.batch.outcomes.v1; (batch_id, line) makes redelivery an overwrite.
CREATE TABLE batch_records (
    batch_id        uuid NOT NULL,
    line            integer NOT NULL,
    mis_identifier  text,
    action          text,
    uln_masked      text,
    status          text NOT NULL,
    errors          jsonb NOT NULL DEFAULT '[]',
    warnings        jsonb NOT NULL DEFAULT '[]',
    achievement_id  uuid,
    PRIMARY KEY (batch_id, line)
);
CREATE INDEX batch_records_by_status ON batch_records (batch_id, status, line);
