-- Messages a consumer could not apply ('error', copied to <topic>.dlq) and the later messages of the
-- same key held behind them ('blocked'), until an operator retries or skips them.
CREATE TABLE parked_messages (
    id                  bigserial PRIMARY KEY,
    consumer            text NOT NULL,
    topic               text NOT NULL,
    partition           integer NOT NULL,
    "offset"            bigint NOT NULL,
    message_key         bytea,
    value               bytea,
    kafka_timestamp_ms  bigint NOT NULL DEFAULT 0,
    reason              text NOT NULL CHECK (reason IN ('error', 'blocked')),
    error               text,
    attempts            integer NOT NULL DEFAULT 0,
    event_id            text,
    event_type          text,
    parked_at           timestamptz NOT NULL DEFAULT now(),
    dlq_pending         boolean NOT NULL DEFAULT false,
    UNIQUE (consumer, topic, partition, "offset")
);
CREATE INDEX parked_messages_by_stream ON parked_messages (consumer, topic, message_key, partition, "offset");
CREATE INDEX parked_messages_dlq_pending ON parked_messages (consumer) WHERE dlq_pending;
