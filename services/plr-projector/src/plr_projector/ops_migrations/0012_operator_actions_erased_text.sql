-- An operator's corrected copies of parked PLR events (`operator_actions.replacement`, kept for good so that every
-- rebuild applies them again) lose the free text that may name an erased learner: a centre report's `subject` and
-- `provider_name`, an achievement event's `provenance.mis_identifier`. From this release the live projection empties
-- them as it projects the erasure, and a copy made after it is kept without them (`store.without_erased_free_text`);
-- the copies of the learners erased before lose it here. A copy that is not JSON is left as it is.
DO $$
DECLARE
    copy record;
    event jsonb;
    about text;
BEGIN
    IF to_regclass('plr.erased_learners') IS NULL THEN
        RETURN;
    END IF;
    FOR copy IN
        SELECT topic, partition, "offset", replacement FROM operator_actions
        WHERE action = 'replace' AND replacement IS NOT NULL
    LOOP
        BEGIN
            event := convert_from(copy.replacement, 'UTF8')::jsonb;
        EXCEPTION WHEN others THEN
            CONTINUE;
        END;
        IF jsonb_typeof(event) <> 'object' OR jsonb_typeof(event -> 'data') <> 'object' THEN
            CONTINUE;
        END IF;
        about := coalesce(event #>> '{data,uln}', event #>> '{data,key,uln}');
        CONTINUE WHEN about IS NULL OR NOT EXISTS (SELECT 1 FROM plr.erased_learners e WHERE e.uln = about);
        IF event #>> '{data,event_type}' = 'lrs.centre.achievement.reported.v1' THEN
            CONTINUE WHEN (event #>> '{data,subject}') IS NULL AND (event #>> '{data,provider_name}') IS NULL;
            event := jsonb_set(jsonb_set(event, '{data,subject}', 'null'), '{data,provider_name}', 'null');
        ELSIF event #>> '{data,event_type}' IN ('lrs.achievement.recorded.v1', 'lrs.achievement.updated.v1',
                'lrs.achievement.superseded.v1', 'lrs.achievement.withdrawn.v1', 'lrs.achievement.reinstated.v1')
              AND jsonb_typeof(event #> '{data,provenance}') = 'object'
              AND (event #>> '{data,provenance,mis_identifier}') IS NOT NULL THEN
            event := jsonb_set(event, '{data,provenance,mis_identifier}', 'null');
        ELSE
            CONTINUE;
        END IF;
        UPDATE operator_actions SET replacement = convert_to(event::text, 'UTF8')
        WHERE topic = copy.topic AND partition = copy.partition AND "offset" = copy."offset";
    END LOOP;
END
$$;
