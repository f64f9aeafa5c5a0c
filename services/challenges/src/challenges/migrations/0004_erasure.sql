-- A learner's erasure (lrs.learner.erased.v1, decision 0080): their challenges keep their facts (state,
-- dates, resolution) and lose the texts, which may name them.
ALTER TABLE challenges
    ALTER COLUMN reason DROP NOT NULL,
    ADD COLUMN personal_data_erased boolean NOT NULL DEFAULT false;

-- The erased learners this service has seen: a challenge raised while the erasure was on its way is
-- refused here, whatever a key cache still held.
CREATE TABLE erased_learners (
    uln       text PRIMARY KEY,
    erased_at timestamptz NOT NULL DEFAULT now()
);
