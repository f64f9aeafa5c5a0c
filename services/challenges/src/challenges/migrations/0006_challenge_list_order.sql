-- A list of challenges is the newest first (`ChallengeStore.list`). Each filter it takes finds its
-- newest rows in an index already in that order, so a page reads its own rows: an AO's (with a state
-- or without), a learner's (`challenges_by_uln`, a few rows), or everyone's for operators. With
-- `challenges_by_ao (ao_id, state)` alone, an AO's page read and sorted every challenge of the AO.
CREATE INDEX challenges_by_ao_newest ON challenges (ao_id, raised_at DESC, challenge_id);
CREATE INDEX challenges_by_ao_state_newest ON challenges (ao_id, state, raised_at DESC, challenge_id);
CREATE INDEX challenges_newest ON challenges (raised_at DESC, challenge_id);
DROP INDEX IF EXISTS challenges_by_ao;
