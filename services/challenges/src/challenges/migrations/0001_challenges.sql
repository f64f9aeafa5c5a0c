CREATE TABLE challenges (
    challenge_id   uuid PRIMARY KEY,
    achievement_id uuid NOT NULL,
    ao_id          text NOT NULL,
    uln            text NOT NULL,
    reason         text NOT NULL,
    state          text NOT NULL,
    raised_at      timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX challenges_by_ao ON challenges (ao_id, state);
