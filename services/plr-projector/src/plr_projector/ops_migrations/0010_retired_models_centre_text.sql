-- The centre reports of erased learners lose their free text (`subject`, `provider_name`) in the retired models
-- too: `plr_retired_<n>`, the live model before a rebuild switch, kept until an operator drops it. No retired model
-- reads the log, so an erasure projected after its switch emptied only the live model's copy. From this release the
-- live projection empties them as it projects the erasure (`store.erase_retired_centre_text`); the reports of the
-- learners erased before lose it here. A schema the projector may not write (made by hand) is left, with a warning.
DO $$
DECLARE
    retired name;
BEGIN
    IF to_regclass('plr.erased_learners') IS NULL THEN
        RETURN;
    END IF;
    FOR retired IN
        SELECT n.nspname FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid
        WHERE starts_with(n.nspname, 'plr_retired_') AND c.relname = 'centre_achievements' AND c.relkind = 'r'
        ORDER BY n.nspname
    LOOP
        BEGIN
            EXECUTE format(
                'UPDATE %I.centre_achievements SET provider_name = NULL, subject = NULL'
                || ' WHERE uln IN (SELECT uln FROM plr.erased_learners)'
                || ' AND (provider_name IS NOT NULL OR subject IS NOT NULL)',
                retired
            );
        EXCEPTION WHEN insufficient_privilege THEN
            RAISE WARNING 'retired model % not emptied: %', retired, SQLERRM;
        END;
    END LOOP;
END
$$;
