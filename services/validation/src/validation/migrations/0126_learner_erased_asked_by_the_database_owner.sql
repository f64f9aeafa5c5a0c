-- Whether a ULN was erased, for `lrs credentials`, which makes no key for an erased learner and reaches the key
-- store as the database owner (`lrs` on the cluster, docs/deploy.md): the owner may ask this and read nothing
-- else of validation's (decision 0184). It runs as validation, which owns the audit; PUBLIC may not call it.
CREATE FUNCTION learner_erased(learner_uln text) RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp
    AS $$ SELECT EXISTS (SELECT 1 FROM validation.erasures WHERE uln = learner_uln) $$;
REVOKE EXECUTE ON FUNCTION learner_erased(text) FROM PUBLIC;
-- pg_database_owner is whoever owns the database this runs in (`lrs`; the Sandpit's `lrs_sandpit`)
GRANT USAGE ON SCHEMA validation TO pg_database_owner;
GRANT EXECUTE ON FUNCTION learner_erased(text) TO pg_database_owner;
