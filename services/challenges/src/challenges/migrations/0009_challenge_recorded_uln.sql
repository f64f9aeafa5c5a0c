-- The ULN the AO recorded the challenged achievement under (decision 0162): the learner who raised the
-- challenge may hold it under another ULN merged into theirs, and an AO knows its achievement by the ULN it
-- recorded. NULL for a challenge raised before: its AO finds it by the raising learner's ULN, as then.
-- An AO's list filtered by ULN matches either column, each over an index of its own.
ALTER TABLE challenges ADD COLUMN recorded_uln text;
CREATE INDEX challenges_by_recorded_uln ON challenges (recorded_uln);
