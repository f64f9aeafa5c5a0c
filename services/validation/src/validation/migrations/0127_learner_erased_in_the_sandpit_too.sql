-- Whether a ULN was erased (decision 0184), also where the erasure is not this database's own: the Sandpit's copy of
-- the live learner registry marks a learner live erased (`learners.erased_at`) but keeps no audit of it, so its
-- `lrs --sandpit credentials create` made a key for a learner live had erased.
CREATE OR REPLACE FUNCTION learner_erased(learner_uln text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$
        SELECT EXISTS (SELECT 1 FROM validation.erasures WHERE uln = learner_uln)
            OR EXISTS (SELECT 1 FROM validation.learners WHERE uln = learner_uln AND erased_at IS NOT NULL)
    $$;
