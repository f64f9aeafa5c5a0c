-- Links made before they were announced (decision 0121): each goes onto the learner log once, through
-- the outbox, as `lrs.learner.provider.linked.v1` with the envelope `registry.wrap` makes, so the
-- projector lets those providers go on reading their learners' PLRs. New links are queued by `_link`.
INSERT INTO learner_outbox (partition_key, envelope)
SELECT uln, convert_to(jsonb_build_object(
    'event_id', gen_random_uuid(),
    'event_type', 'lrs.learner.provider.linked.v1',
    'occurred_at', to_char(linked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'source', 'validation',
    'correlation_id', 'learner:' || right(uln, 4),
    'causation_id', NULL,
    'schema_version', 1,
    'data', jsonb_build_object(
        'event_type', 'lrs.learner.provider.linked.v1', 'uln', uln, 'provider_ukprn', provider_ukprn
    )
)::text, 'UTF8')
FROM learner_links
WHERE provider_ukprn ~ '^[0-9]{8}$'  -- a key issued before keys were checked may have named anything
ORDER BY linked_at, uln, provider_ukprn;
