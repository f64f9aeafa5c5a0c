-- What a person recognises an achievement by (decision 0142): its qualification, award date, grade and
-- title, as the log last said them (NULL in a row: as it was). A challenge keeps them as they were when
-- it was raised.
ALTER TABLE achievements_on_record
    ADD COLUMN IF NOT EXISTS qualification_number text,
    ADD COLUMN IF NOT EXISTS award_date date,
    ADD COLUMN IF NOT EXISTS grade text,
    ADD COLUMN IF NOT EXISTS title text;
ALTER TABLE challenges
    ADD COLUMN IF NOT EXISTS qualification_number text,
    ADD COLUMN IF NOT EXISTS award_date date,
    ADD COLUMN IF NOT EXISTS grade text,
    ADD COLUMN IF NOT EXISTS title text,
    ADD COLUMN IF NOT EXISTS correcting_batch_id uuid;

-- Which batch put an event of which learner's achievement of which qualification on the log, and when it
-- was decided: a challenge resolved as corrected names one of these batches (decision 0142). Appended
-- (binary COPY) and never updated; a poll applied again adds the same rows, which answer the same.
CREATE TABLE IF NOT EXISTS batch_touches (
    batch_id             uuid NOT NULL,
    ao_id                text NOT NULL,
    uln                  text NOT NULL,
    qualification_number text NOT NULL,
    decided_at           timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS batch_touches_by_achievement ON batch_touches (ao_id, qualification_number, uln, decided_at DESC);

-- The record read the log again from its beginning, to learn these facts of the achievements and the batches
-- already on it: until it has caught up, a raise on an achievement it has not re-read waits for it, then
-- answers 503 PROJECTION_PENDING (decision 0142). Merges, erasures and parked messages are kept: applying
-- them again changes nothing.
TRUNCATE achievements_on_record;
DELETE FROM log_positions;
