-- Decision 0200 (migrations 0122 and 0123), report "review5" findings 1 and 6. The triggers' function read `pg_class`,
-- `pg_has_role` and `current_setting` by the caller's search_path: a role that does not own the tables could pass for
-- their owner with a temporary `pg_class`, or a `pg_has_role` of its own searched before pg_catalog, and with
-- `lrs.audit_maintenance` on rewrite the history. The function now runs with pg_catalog first and pg_temp last,
-- whoever calls it. And an end is filled as the code fills it (`Maintenance.cancel_window`, `Maintenance.resume`):
-- by someone, at the time of the transaction that ends it, never backdated nor put ahead.
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
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'maintenance_windows' THEN
        IF OLD.cancelled_by IS NULL AND OLD.cancelled_at IS NULL AND OLD.cancelled_with_key IS NULL
           AND NEW.cancelled_by IS NOT NULL AND NEW.cancelled_at = now()
           AND (to_jsonb(NEW) - 'cancelled_by' - 'cancelled_at' - 'cancelled_with_key')
               = (to_jsonb(OLD) - 'cancelled_by' - 'cancelled_at' - 'cancelled_with_key') THEN
            RETURN NEW;  -- cancelled
        END IF;
    ELSIF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'maintenance_pauses' THEN
        IF OLD.resumed_by IS NULL AND OLD.resumed_at IS NULL AND OLD.resumed_with_key IS NULL
           AND NEW.resumed_by IS NOT NULL AND NEW.resumed_at = now()
           AND (to_jsonb(NEW) - 'resumed_by' - 'resumed_at' - 'resumed_with_key')
               = (to_jsonb(OLD) - 'resumed_by' - 'resumed_at' - 'resumed_with_key') THEN
            RETURN NEW;  -- resumed
        END IF;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%s.%s is an audit record: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP),
        DETAIL = CASE TG_TABLE_NAME
            WHEN 'maintenance_windows' THEN 'A window is only ever cancelled, once, by someone, at the time of'
                ' cancelling; it is never deleted.'
            ELSE 'A pause is only ever resumed, once, by someone, at the time of resuming; it is never deleted.'
        END,
        HINT = 'Decision 0200.';
END
$$;
