-- Every retry and skip an operator made of a parked message (`lrs dlq history`): who, when, which message
-- (by its place on the log and its event, not its key, which may be a learner's ULN), why, and what followed.
-- Kept after the parked rows are gone; only ever inserted.
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
