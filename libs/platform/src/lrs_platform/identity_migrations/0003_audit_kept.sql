-- Decision 0200: the record of who made and revoked each API key is kept as it was written, whatever the grants
-- (Kubernetes' roles.sql lets every service role UPDATE and DELETE in `identity`). `key_changes` is only ever added
-- to. A key in `credentials` is only ever revoked (`revoked_at` set to the time of the revoking transaction where it
-- was empty: never backdated, emptied again nor moved) and its label only ever emptied (a learner's erasure); its id, principal, scopes, secret and creation time
-- never change, and no key is deleted. Anything else is refused with an error naming the table, UPDATE and DELETE
-- row by row and TRUNCATE for the statement. A role that owns the table, and so could drop the trigger anyway, may
-- set `lrs.audit_maintenance` to 'on' in its transaction to repair by hand (docs/operations.md); no other may.
-- Triggers are made by the tables' owner: run by another role, this migration stops with a message saying so.
DO $$
DECLARE
    tables text[];
BEGIN
    SELECT array_agg(c.relname ORDER BY c.relname) INTO tables
    FROM pg_class c
    WHERE c.relnamespace = current_schema()::regnamespace AND c.relname IN ('credentials', 'key_changes')
      AND NOT has_table_privilege(c.oid, 'TRIGGER');
    IF tables IS NOT NULL THEN
        RAISE EXCEPTION USING
            ERRCODE = 'insufficient_privilege',
            MESSAGE = format(
                'identity migration 0003 must be run by the owner of %s.%s (role %s), not %s',
                current_schema(), tables[1],
                (SELECT pg_get_userbyid(relowner) FROM pg_class
                 WHERE relnamespace = current_schema()::regnamespace AND relname = tables[1]),
                current_user),
            HINT = 'Start the service whose role owns the identity tables first (docs/operations.md, decision 0200).';
    END IF;
END
$$;

CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('lrs.audit_maintenance', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
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
           AND (NEW.label IS NOT DISTINCT FROM OLD.label OR NEW.label IS NULL) THEN
            RETURN NEW;  -- a revocation, or a label emptied at a learner's erasure
        END IF;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%s.%s is an audit record: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP),
        DETAIL = CASE TG_TABLE_NAME
            WHEN 'credentials' THEN 'A key may only be revoked (once, at the time of revoking) and its label emptied; it is never deleted.'
            ELSE 'Its rows are only ever added.'
        END,
        HINT = 'Decision 0200.';
END
$$;

CREATE TRIGGER key_changes_kept BEFORE UPDATE OR DELETE ON key_changes
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER key_changes_not_truncated BEFORE TRUNCATE ON key_changes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER credentials_kept BEFORE UPDATE OR DELETE ON credentials
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER credentials_not_truncated BEFORE TRUNCATE ON credentials
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
