-- Sandpit resets (decision 0060), on a Sandpit ingest only: asked for, then completed when the decider
-- has applied the reset and the AO's batch views are deleted.
CREATE TABLE sandpit_resets (
    reset_id         uuid PRIMARY KEY,
    ao_id            text NOT NULL,
    requested_by     text NOT NULL,
    requested_at     timestamptz NOT NULL,
    status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed')),
    completed_at     timestamptz,
    learners         integer,
    batches_deleted  integer,
    plr_min_offsets  text
);
