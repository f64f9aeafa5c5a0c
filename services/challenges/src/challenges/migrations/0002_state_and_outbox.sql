ALTER TABLE challenges
    ADD COLUMN acknowledged_at timestamptz,
    ADD COLUMN resolved_at     timestamptz,
    ADD COLUMN resolution      text,
    ADD COLUMN note            text,
    ADD CONSTRAINT challenges_state CHECK (state IN ('raised', 'acknowledged', 'resolved'));

-- A learner has at most one open challenge per achievement.
CREATE UNIQUE INDEX challenges_one_open ON challenges (uln, achievement_id) WHERE state <> 'resolved';
CREATE INDEX challenges_by_uln ON challenges (uln);

-- Transactional outbox: written in the same transaction as the row, relayed to lrs.challenge.events.v1.
CREATE TABLE outbox (
    id            bigserial PRIMARY KEY,
    event_id      uuid NOT NULL UNIQUE,
    partition_key text NOT NULL,
    envelope      bytea NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    published_at  timestamptz
);
CREATE INDEX outbox_unpublished ON outbox (id) WHERE published_at IS NULL;
