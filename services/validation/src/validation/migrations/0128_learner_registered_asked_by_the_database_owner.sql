-- Whether a ULN is in the learner registry, for `lrs credentials`, which makes no learner's key for a ULN no learner
-- is registered under (unless --allow-unregistered): such a key would read the PLR of whoever is registered under
-- it later. As learner_erased (0126, decision 0184), the database owner may ask this and read nothing else of
-- validation's. It runs as validation, which owns the registry; PUBLIC may not call it.
CREATE FUNCTION learner_registered(learner_uln text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT EXISTS (SELECT 1 FROM validation.learners WHERE uln = learner_uln) $$;
REVOKE EXECUTE ON FUNCTION learner_registered(text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION learner_registered(text) TO pg_database_owner;
