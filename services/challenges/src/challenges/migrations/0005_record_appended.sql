-- The record is appended to (decision 0099): each poll adds a row per achievement it changes, and an
-- achievement is what its latest row says (withdrawn: its latest row that says it, NULL meaning "as it
-- was"). A hash index finds an achievement's rows: the unique B-tree over random ids cost most of the
-- server's work on each copied row. Rows on record before this migration are the oldest (applied_in 0).
ALTER TABLE achievements_on_record
    DROP CONSTRAINT achievements_on_record_pkey,
    ALTER COLUMN withdrawn DROP NOT NULL,
    ADD COLUMN applied_in bigint NOT NULL DEFAULT 0;
-- Each poll takes the next number of this sequence and stamps its rows with it.
ALTER TABLE achievements_on_record ALTER COLUMN applied_in DROP DEFAULT;
CREATE SEQUENCE record_applications;
CREATE INDEX achievements_on_record_by_id ON achievements_on_record USING hash (achievement_id);
