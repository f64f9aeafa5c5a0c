-- Bulk rebuilds (decision 0033): worker processes on disjoint partition sets load the new schema with
-- COPY; the projector builds its indexes, then follows the log from the recorded targets.

-- workers = 0: no bulk load, the projector's own runner replays from offset 0 (the earlier way).
-- phase: 'loading' (workers at work) -> 'indexing' -> 'following' (a runner projects what came since).
ALTER TABLE rebuilds ADD COLUMN workers integer NOT NULL DEFAULT 0;
ALTER TABLE rebuilds ADD COLUMN phase text NOT NULL DEFAULT 'following'
    CHECK (phase IN ('loading', 'indexing', 'following'));
-- The keys and indexes the bulk load dropped, to be built again after it.
ALTER TABLE rebuilds ADD COLUMN deferred_ddl jsonb NOT NULL DEFAULT '[]';
-- Why a rebuild stopped (state 'failed'); the operator abandons it and starts another.
ALTER TABLE rebuilds ADD COLUMN error text;

CREATE TABLE rebuild_workers (
    rebuild_id    integer NOT NULL REFERENCES rebuilds (rebuild_id) ON DELETE CASCADE,
    worker        integer NOT NULL,
    -- {"<topic>:<partition>": [first offset, target offset]}: this worker's slice of the log
    partitions    jsonb NOT NULL,
    passes        integer NOT NULL,
    passes_done   integer NOT NULL DEFAULT 0,
    state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'running', 'done', 'failed')),
    events_total  bigint NOT NULL,
    events_read   bigint NOT NULL DEFAULT 0,
    error         text,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rebuild_id, worker)
);
