-- Decision 0200: the maintenance history (`lrs maintenance history`: who scheduled which window, when and why; who
-- paused and resumed intake) is kept as it was written, whatever the grants. A window's or a pause's row is never
-- deleted (nor the table truncated), and of its columns only the ones its end fills are ever set, once, from
-- empty: a window's `cancelled_by` and `cancelled_at` (`Maintenance.cancel`), a pause's `resumed_by` and
-- `resumed_at` (`Maintenance.resume`). Anything else is refused with an error naming the table. The schema's owner,
-- who could drop the triggers anyway, may set `lrs.audit_maintenance` to 'on' in its transaction to repair by hand
-- (docs/operations.md).
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
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'maintenance_windows' THEN
        IF OLD.cancelled_by IS NULL AND OLD.cancelled_at IS NULL
           AND (to_jsonb(NEW) - 'cancelled_by' - 'cancelled_at') = (to_jsonb(OLD) - 'cancelled_by' - 'cancelled_at') THEN
            RETURN NEW;  -- cancelled
        END IF;
    ELSIF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'maintenance_pauses' THEN
        IF OLD.resumed_by IS NULL AND OLD.resumed_at IS NULL
           AND (to_jsonb(NEW) - 'resumed_by' - 'resumed_at') = (to_jsonb(OLD) - 'resumed_by' - 'resumed_at') THEN
            RETURN NEW;  -- resumed
        END IF;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%s.%s is an audit record: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP),
        DETAIL = CASE TG_TABLE_NAME
            WHEN 'maintenance_windows' THEN 'A window is only ever cancelled, once; it is never deleted.'
            ELSE 'A pause is only ever resumed, once; it is never deleted.'
        END,
        HINT = 'Decision 0200.';
END
$$;

CREATE TRIGGER maintenance_windows_kept BEFORE UPDATE OR DELETE ON maintenance_windows
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER maintenance_windows_not_truncated BEFORE TRUNCATE ON maintenance_windows
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER maintenance_pauses_kept BEFORE UPDATE OR DELETE ON maintenance_pauses
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER maintenance_pauses_not_truncated BEFORE TRUNCATE ON maintenance_pauses
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
