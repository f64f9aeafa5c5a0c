-- The Sandpit's PLR projector may ask `learner_erased` (decision 0184), as live's may (0129), and nothing else of
-- validation's. A Sandpit made by session 62's roles (deploy/k8s/base/postgres/roles.yaml, sandpit.sql, and
-- docs/deploy.md's steps for a running cluster) granted its role, `lrs_sandpit_plr_projector`, by default privilege
-- every function validation makes, so it could ask `learner_registered` whether a ULN is in the Sandpit's copy of the
-- live registry. Here, where that role exists: the default privilege goes, every function's grant to it but
-- `learner_erased`'s is revoked, and `learner_erased` is granted by name where it may connect to this database (the
-- Sandpit's `lrs_sandpit`). Elsewhere (live's `lrs`, a developer's database) nothing changes.
DO $$
DECLARE
    routine regprocedure;
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'lrs_sandpit_plr_projector') THEN
        ALTER DEFAULT PRIVILEGES IN SCHEMA validation REVOKE EXECUTE ON FUNCTIONS FROM lrs_sandpit_plr_projector;
        FOR routine IN
            SELECT p.oid::regprocedure FROM pg_catalog.pg_proc p
            WHERE p.pronamespace = 'validation'::regnamespace
              AND p.oid <> 'validation.learner_erased(text)'::regprocedure
              AND EXISTS (SELECT 1 FROM pg_catalog.aclexplode(p.proacl) acl
                          WHERE acl.grantee = 'lrs_sandpit_plr_projector'::regrole)
        LOOP
            EXECUTE pg_catalog.format('REVOKE ALL ON ROUTINE %s FROM lrs_sandpit_plr_projector', routine);
        END LOOP;
        IF pg_catalog.has_database_privilege('lrs_sandpit_plr_projector', pg_catalog.current_database(), 'CONNECT') THEN
            GRANT USAGE ON SCHEMA validation TO lrs_sandpit_plr_projector;
            GRANT EXECUTE ON FUNCTION validation.learner_erased(text) TO lrs_sandpit_plr_projector;
        END IF;
    END IF;
END
$$;
