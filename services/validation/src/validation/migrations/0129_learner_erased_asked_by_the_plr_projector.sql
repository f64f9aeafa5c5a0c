-- Whether a ULN was erased, for the PLR projector, which takes no centre report for an erased learner
-- (`POST /v1/centre/achievements`): its read model learns of an erasure only once it has read `LearnerErased`, so a
-- report sent just after an erasure answered 201 was taken. As the database owner may (0126, decision 0184), the
-- projector's role asks this and reads nothing else of validation's. Granted where that role, `lrs_plr_projector`
-- (deploy/k8s/base/postgres/roles.yaml), may connect to this database: live's `lrs`. Elsewhere the projector logs in
-- as the database's owner (the Sandpit's `lrs_sandpit`, a developer's database), who may call it already.
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'lrs_plr_projector') THEN
        IF pg_catalog.has_database_privilege('lrs_plr_projector', pg_catalog.current_database(), 'CONNECT') THEN
            GRANT USAGE ON SCHEMA validation TO lrs_plr_projector;
            GRANT EXECUTE ON FUNCTION validation.learner_erased(text) TO lrs_plr_projector;
        END IF;
    END IF;
END
$$;
