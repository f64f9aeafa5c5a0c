-- Decision 0200: the operators' decisions on parked PLR events are kept as they were written, whatever the grants:
-- an edit of `operator_actions` would change PLRs at the next rebuild (every rebuild applies its skips and
-- replacements again) while `lrs dlq history` still said otherwise. Refused with an error naming the table: any
-- DELETE or TRUNCATE, and an UPDATE but those the projector makes:
-- * `dead_letter_actions` (every retry and skip, `lrs dlq history`): only its `batch_id`, set once from empty as the
--   action is recorded (`store.record_dead_letter_action`);
-- * `operator_actions` (the decision a projection honours at a position): a later decision at the same position,
--   which replaces the earlier one and is stamped with its own transaction's time (`store.record_operator_action`:
--   `dead_letter_actions` keeps both); or, at a learner's erasure, a stored replacement whose free text that may
--   name them is emptied and nothing else changed (`store.erase_replaced_free_text`, migration 0012; the paths are
--   `lrs_platform.parking.FREE_TEXT`'s).
-- The schema's owner, who could drop the triggers anyway, may set `lrs.audit_maintenance` to 'on' in its transaction
-- to repair by hand (docs/operations.md).
CREATE FUNCTION refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    before jsonb;
    after jsonb;
    emptied_before jsonb;
    emptied_after jsonb;
BEGIN
    IF current_setting('lrs.audit_maintenance', true) = 'on'
       AND pg_has_role(current_user, (SELECT relowner FROM pg_class WHERE oid = TG_RELID), 'MEMBER') THEN
        IF TG_OP = 'DELETE' THEN
            RETURN OLD;
        END IF;
        RETURN NEW;
    END IF;
    -- nested: a condition naming a column is planned for the table it names only (PL/pgSQL does not cut `AND` short)
    IF TG_OP = 'UPDATE' AND TG_TABLE_NAME = 'dead_letter_actions' THEN
        IF OLD.batch_id IS NULL AND (to_jsonb(NEW) - 'batch_id') = (to_jsonb(OLD) - 'batch_id') THEN
            RETURN NEW;  -- its batch, as the action is recorded
        END IF;
    END IF;
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
            WHEN 'dead_letter_actions' THEN 'Its rows are only ever added (and their batch set as they are).'
            ELSE 'Its rows are only ever added.'
        END,
        HINT = 'Decision 0200.';
END
$$;

CREATE TRIGGER dead_letter_actions_kept BEFORE UPDATE OR DELETE ON dead_letter_actions
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER dead_letter_actions_not_truncated BEFORE TRUNCATE ON dead_letter_actions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER operator_actions_kept BEFORE UPDATE OR DELETE ON operator_actions
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER operator_actions_not_truncated BEFORE TRUNCATE ON operator_actions
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
