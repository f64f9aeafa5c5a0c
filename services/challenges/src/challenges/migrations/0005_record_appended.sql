-- The record is appended to (decision 0099): each poll adds a row per achievement it changes, and an
-- achievement is what its latest row says (withdrawn: its latest row that says it, NULL meaning "as it
-- was"). A hash index finds an achievement's rows: the unique B-tree over random ids cost most of the
-- server's work on each copied row. Rows on record before this migration are the oldest (applied_in 0).
ALTER TABLE achievements_on_record
    DROP CONSTRAINT achievements_on_record_pkey,
    ALTER COLUMN withdrawn DROP NOT NULL,
    ADD COLUMN applied_in xid8 NOT NULL DEFAULT '0';
-- The transaction that appended the row: polls are applied one after another, so a later poll's is higher.
ALTER TABLE achievements_on_record ALTER COLUMN applied_in SET DEFAULT pg_current_xact_id();
CREATE INDEX achievements_on_record_by_id ON achievements_on_record USING hash (achievement_id);
