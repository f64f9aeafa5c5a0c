-- Decision 0200 (migration 0014), report "review5" findings 1 and 6. The triggers' function read `pg_class`,
-- `pg_has_role` and `current_setting` by the caller's search_path: a role that does not own the tables could pass for
-- their owner with a temporary `pg_class`, or a `pg_has_role` of its own searched before pg_catalog, and with
-- `lrs.audit_maintenance` on rewrite the decisions. The function now runs with pg_catalog first and pg_temp last,
-- whoever calls it. And `dead_letter_actions` is only ever added to: its `batch_id` is written in the INSERT that
-- records the action (`store.record_dead_letter_action`), and no code sets it afterwards, so the allowance to set it
-- once from empty (which let any skip recorded before migration 0013 be laid at any batch's door) is gone.
CREATE OR REPLACE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    before jsonb;
    after jsonb;
    emptied_before jsonb;
    emptied_after jsonb;
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
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'operator_actions'
       AND (to_jsonb(NEW) -> 'topic', to_jsonb(NEW) -> 'partition', to_jsonb(NEW) -> 'offset')
         = (to_jsonb(OLD) -> 'topic', to_jsonb(OLD) -> 'partition', to_jsonb(OLD) -> 'offset') THEN
        IF NEW.acted_at = now() AND NEW.acted_at > OLD.acted_at THEN
            RETURN NEW;  -- a later decision at the position
        END IF;
        IF OLD.action = 'replace' AND NEW.action = 'replace' AND OLD.replacement IS NOT NULL
           AND NEW.replacement IS NOT NULL
           AND (to_jsonb(NEW) - 'replacement') = (to_jsonb(OLD) - 'replacement') THEN
            BEGIN
                before := convert_from(OLD.replacement, 'UTF8')::jsonb;
                after := convert_from(NEW.replacement, 'UTF8')::jsonb;
            EXCEPTION WHEN others THEN
                before := NULL;
            END;
            IF before IS NOT NULL THEN
                emptied_before := jsonb_set(jsonb_set(jsonb_set(before,
                    '{data,subject}', 'null', false), '{data,provider_name}', 'null', false),
                    '{data,provenance,mis_identifier}', 'null', false);
                emptied_after := jsonb_set(jsonb_set(jsonb_set(after,
                    '{data,subject}', 'null', false), '{data,provider_name}', 'null', false),
                    '{data,provenance,mis_identifier}', 'null', false);
                IF emptied_before = emptied_after AND after = emptied_after THEN
                    RETURN NEW;  -- the free text emptied at a learner's erasure
                END IF;
            END IF;
        END IF;
    END IF;
    RAISE EXCEPTION USING
        ERRCODE = 'restrict_violation',
        MESSAGE = format('%s.%s is an audit record: %s refused', TG_TABLE_SCHEMA, TG_TABLE_NAME, TG_OP),
        DETAIL = CASE TG_TABLE_NAME
            WHEN 'operator_actions' THEN 'A decision is only replaced by a later one, or its copy''s free text'
                ' emptied at a learner''s erasure.'
            ELSE 'Its rows are only ever added.'
        END,
        HINT = 'Decision 0200.';
END
$$;
