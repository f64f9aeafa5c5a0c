-- Who scheduled, cancelled, paused and resumed is kept with the API key they did it with (`*_with_key`, the key's id),
-- as a batch keeps `submitted_with_key`: a principal such as `operator:alex` is whatever a key's maker chose, so
-- a portal user's action and another key's with the same principal read alike without it. Null for rows before.
ALTER TABLE maintenance_windows ADD COLUMN scheduled_with_key text, ADD COLUMN cancelled_with_key text;
ALTER TABLE maintenance_pauses ADD COLUMN paused_with_key text, ADD COLUMN resumed_with_key text;

-- Decision 0200 (migration 0122), with the keys: a window's end fills `cancelled_with_key` with `cancelled_by` and
-- `cancelled_at`, a pause's `resumed_with_key` with `resumed_by` and `resumed_at`, once, from empty. Anything else is
-- refused as before.
CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
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
        IF OLD.cancelled_by IS NULL AND OLD.cancelled_at IS NULL AND OLD.cancelled_with_key IS NULL
           AND (to_jsonb(NEW) - 'cancelled_by' - 'cancelled_at' - 'cancelled_with_key')
               = (to_jsonb(OLD) - 'cancelled_by' - 'cancelled_at' - 'cancelled_with_key') THEN
            RETURN NEW;  -- cancelled
        END IF;
    ELSIF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'maintenance_pauses' THEN
        IF OLD.resumed_by IS NULL AND OLD.resumed_at IS NULL AND OLD.resumed_with_key IS NULL
           AND (to_jsonb(NEW) - 'resumed_by' - 'resumed_at' - 'resumed_with_key')
               = (to_jsonb(OLD) - 'resumed_by' - 'resumed_at' - 'resumed_with_key') THEN
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
