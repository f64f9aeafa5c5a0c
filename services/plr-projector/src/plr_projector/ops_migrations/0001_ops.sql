-- Operator state that must survive a rebuild switch: it lives outside the read-model schema.

-- Decisions an operator took about single log positions. Every projection run (live, rebuild,
-- replay) honours them, so a rebuild reproduces a model in which an event was skipped or replaced.
CREATE TABLE operator_actions (
    topic        text NOT NULL,
    partition    integer NOT NULL,
    "offset"     bigint NOT NULL,
    action       text NOT NULL CHECK (action IN ('skip', 'replace')),
    replacement  bytea,
    operator     text NOT NULL,
    reason       text,
    acted_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);

CREATE TABLE rebuilds (
    rebuild_id      integer PRIMARY KEY,
    schema_name     text NOT NULL,
    state           text NOT NULL,
    started_by      text NOT NULL,
    started_at      timestamptz NOT NULL DEFAULT now(),
    target_offsets  jsonb NOT NULL,
    comparison      jsonb,
    finished_at     timestamptz
);

CREATE TABLE replays (
    replay_id    bigserial PRIMARY KEY,
    requested    text NOT NULL,
    requested_by text NOT NULL,
    state        text NOT NULL,
    result       jsonb,
    started_at   timestamptz NOT NULL DEFAULT now(),
    finished_at  timestamptz
);
