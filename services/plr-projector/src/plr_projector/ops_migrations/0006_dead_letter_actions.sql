-- Every retry and skip an operator made of the projector's parked events (`lrs dlq history --service
-- plr-projector`), in the shape the other services keep them (lrs_platform's parking migration 0003): who,
-- when, which event (by its place on the log and its id, never its key, a learner's ULN), why, and what
-- followed. `operator_actions` keeps only the decision a projection honours at a position, replaced by a later
-- one; this keeps every decision, and plain retries too. Only ever inserted.
CREATE TABLE dead_letter_actions (
    id                  bigserial PRIMARY KEY,
    action              text NOT NULL CHECK (action IN ('retry', 'skip')),
    operator            text NOT NULL,
    reason              text,
    replaced            boolean NOT NULL DEFAULT false,
    consumer            text NOT NULL,
    topic               text NOT NULL,
    partition           integer NOT NULL,
    "offset"            bigint NOT NULL,
    event_id            text,
    event_type          text,
    applied             integer NOT NULL,
    skipped             integer NOT NULL,
    still_parked        integer NOT NULL,
    acted_at            timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX dead_letter_actions_newest_first ON dead_letter_actions (acted_at DESC, id DESC);

