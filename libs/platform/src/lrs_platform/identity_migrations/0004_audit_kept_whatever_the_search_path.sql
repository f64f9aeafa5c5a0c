-- Decision 0200 (migration 0003), report "review5" findings 1 and 5. The triggers' function read `pg_class`,
-- `pg_has_role` and `current_setting` by the caller's search_path: a role that owns neither table could pass for
-- their owner with a temporary `pg_class`, or a `pg_has_role` of its own searched before pg_catalog, and with
-- `lrs.audit_maintenance` on un-revoke a key. The function now runs with pg_catalog first and pg_temp last, whoever
-- calls it. And a label is emptied only on a learner's key (`_FORGET_LABELS`, at their erasure): an operator's or an
-- AO's label, for a key made before migration 0002 the only record of who made it, is kept.
-- Only the function's owner may replace it: run by another role, this migration stops with a message saying so.
DO $$
DECLARE
    function_owner oid := (
        SELECT p.proowner FROM pg_catalog.pg_proc p
        WHERE p.oid = pg_catalog.to_regprocedure(pg_catalog.format('%I.refuse_audit_change()', current_schema()))
    );
BEGIN
    IF NOT pg_catalog.pg_has_role(current_user, function_owner, 'USAGE') THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = pg_catalog.format(
                'identity migration 0004 must be run by the owner of %s.refuse_audit_change() (role %s), not %s',
                current_schema(), pg_catalog.pg_get_userbyid(function_owner), current_user),
            HINT = 'Start first the service whose role owns identity.refuse_audit_change(), in each database'
                ' (docs/deploy.md, the release of session 64''s fixes; decision 0200).';
    END IF;
END
$$;

CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF pg_catalog.current_setting('lrs.audit_maintenance', true) = 'on'
       AND pg_catalog.pg_has_role(current_user,
           (SELECT c.relowner FROM pg_catalog.pg_class c WHERE c.oid = TG_RELID), 'MEMBER') THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    -- nested: a condition naming a column is planned for the table it names only (PL/pgSQL does not cut `AND` short)
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'credentials' THEN
        IF NEW.key_id = OLD.key_id
           AND NEW.principal = OLD.principal
           AND NEW.scopes = OLD.scopes
           AND NEW.secret_hash = OLD.secret_hash
           AND NEW.created_at = OLD.created_at
           AND (NEW.revoked_at IS NOT DISTINCT FROM OLD.revoked_at OR (OLD.revoked_at IS NULL AND NEW.revoked_at = now()))
           AND (NEW.label IS NOT DISTINCT FROM OLD.label OR (NEW.label IS NULL AND OLD.principal LIKE 'learner:%')) THEN
            RETURN NEW;  -- a revocation, or a learner's label emptied at their erasure
        END IF;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%s.%s is an audit record: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP),
        DETAIL = CASE TG_TABLE_NAME
            WHEN 'credentials' THEN 'A key may only be revoked (once, at the time of revoking) and a learner''s key''s'
                ' label emptied; it is never deleted.'
            ELSE 'Its rows are only ever added.'
        END,
        HINT = 'Decision 0200.';
END
$$;
