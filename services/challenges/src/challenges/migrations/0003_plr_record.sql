-- The challenges service's own projection of the PLR log (lrs.plr.events.v1) and of the merges on
-- lrs.learner.events.v1: a challenge is checked against it, never against what the learner sent.
CREATE TABLE achievements_on_record (
    achievement_id uuid PRIMARY KEY,
    uln            text NOT NULL,
    ao_id          text NOT NULL,
    withdrawn      boolean NOT NULL
);

CREATE TABLE learner_merges (
    merged_uln text PRIMARY KEY,
    master_uln text NOT NULL
);
CREATE INDEX learner_merges_by_master ON learner_merges (master_uln);

-- How far each partition has been applied: where the consumer resumes, and what a challenge that
-- finds nothing waits for before it answers 404.
CREATE TABLE log_positions (
    topic       text NOT NULL,
    partition   integer NOT NULL,
    next_offset bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);
