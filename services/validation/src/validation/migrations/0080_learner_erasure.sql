-- Erasure (decision 0080): an erased learner's registry row keeps its ULN, sharing and merges, and
-- loses its personal details; the row stays so the ULN is never registered again.
ALTER TABLE learners ALTER COLUMN given_name DROP NOT NULL;
ALTER TABLE learners ALTER COLUMN family_name DROP NOT NULL;
ALTER TABLE learners ALTER COLUMN gender DROP NOT NULL;
ALTER TABLE learners ADD COLUMN erased_at timestamptz;
ALTER TABLE learners ADD CONSTRAINT an_erased_learner_has_no_details CHECK (
    erased_at IS NOT NULL
    OR (given_name IS NOT NULL AND family_name IS NOT NULL AND gender IS NOT NULL)
);
ALTER TABLE learners ADD CONSTRAINT an_erased_learner_keeps_no_details CHECK (
    erased_at IS NULL
    OR (given_name IS NULL AND family_name IS NULL AND date_of_birth IS NULL AND gender IS NULL)
);

-- Who erased which learner, when and why: the audit operators answer to. One erasure per ULN.
CREATE TABLE erasures (
    erasure_id  uuid PRIMARY KEY,
    uln         text NOT NULL UNIQUE,
    erased_by   text NOT NULL,
    reason      text NOT NULL,
    erased_at   timestamptz NOT NULL
);
