-- What the learner file said of each learner's ability to share, last time it named them (decision 0180): a file
-- changes the choice only where it says something new, so the same file again leaves a choice made since (by the
-- learner or a linked provider) as it is. NULL: no file has named the learner yet.
ALTER TABLE learners ADD COLUMN IF NOT EXISTS ability_to_share_in_file smallint;
