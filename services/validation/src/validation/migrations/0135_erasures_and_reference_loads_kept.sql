-- Decision 0200: the erasure audit (`erasures`: who erased which learner, when and why) and the record of each load
-- of the reference files (`reference_loads`: which register a batch was judged by) are only ever added to, whatever
-- the grants: an UPDATE or DELETE of a row, or a TRUNCATE, is refused with an error naming the table. The schema's
-- owner, who could drop the triggers anyway, may set `lrs.audit_maintenance` to 'on' in its transaction to repair by
-- hand (docs/operations.md).
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('lrs.audit_maintenance', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%s.%s is an audit record: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP),
        DETAIL = 'Its rows are only ever added.',
        HINT = 'Decision 0200.';
END
$$;

CREATE TRIGGER erasures_kept BEFORE UPDATE OR DELETE ON erasures
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER erasures_not_truncated BEFORE TRUNCATE ON erasures
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER reference_loads_kept BEFORE UPDATE OR DELETE ON reference_loads
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER reference_loads_not_truncated BEFORE TRUNCATE ON reference_loads
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
