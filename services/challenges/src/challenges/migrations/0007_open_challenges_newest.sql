-- An AO's inbox lists its open challenges (raised or acknowledged) newest first, a page at a time
-- (`ChallengeStore.list` names the states in the statement as this index does). Over the indexes of
-- 0006 a page read every open challenge of the AO and sorted them; this one holds the open ones alone,
-- in the list's order. (Operators' lists of everyone's open challenges read the newest of all and
-- pass over the resolved: an index of everyone's open ones drew the planner to it for AOs' pages too.)
CREATE INDEX challenges_open_by_ao_newest ON challenges (ao_id, raised_at DESC, challenge_id)
    WHERE state IN ('raised', 'acknowledged');
