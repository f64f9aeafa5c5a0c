-- The rest of an achievement's data (DOMAIN.md §7: pathway, centre UKPRN, language for assessment, credits) as the
-- log last said it: a row whose grade is NULL (a withdrawal or reinstatement carries no data) leaves all of it as it
-- was; in a row with a grade, NULL says the event had none. A challenge keeps them as they were when it was raised.
ALTER TABLE achievements_on_record
    ADD COLUMN IF NOT EXISTS pathway text,
    ADD COLUMN IF NOT EXISTS ukprn text,
    ADD COLUMN IF NOT EXISTS language_for_assessment text,
    ADD COLUMN IF NOT EXISTS credits integer;
ALTER TABLE challenges
    ADD COLUMN IF NOT EXISTS pathway text,
    ADD COLUMN IF NOT EXISTS ukprn text,
    ADD COLUMN IF NOT EXISTS language_for_assessment text,
    ADD COLUMN IF NOT EXISTS credits integer,
    -- raised before the record kept these: filled once from the record, when it has read the log again
    -- (`PlrRecord.fill_challenges_data`). Every challenge already raised waits so: added with the default true (a
    -- change of the catalogue, no rewrite of the rows), which a challenge raised from now on does not take.
    ADD COLUMN IF NOT EXISTS achievement_data_pending boolean NOT NULL DEFAULT true;
ALTER TABLE challenges ALTER COLUMN achievement_data_pending SET DEFAULT false;
CREATE INDEX IF NOT EXISTS challenges_achievement_data_pending ON challenges (challenge_id) WHERE achievement_data_pending;

-- The record reads the log again from its beginning to learn these of the achievements already on it, as migrations
-- 0008 and 0011 did: until it has caught up, a raise on an achievement it has not re-read waits for it, then answers
-- 503 PROJECTION_PENDING. Statuses and the batches it touched are read again with them (kept, the fold would start
-- from them). Merges, erasures and parked messages are kept: applying them again changes nothing.
TRUNCATE achievements_on_record, achievement_statuses, batch_touches;
DELETE FROM log_positions;
