-- Who changed a learner's ability to share, and when (decision 0166): the learner, a linked provider acting for
-- them, an operator, or a merge keeping an opt-out (0164). A fact about the choice, kept through an erasure.
CREATE TABLE IF NOT EXISTS sharing_changes (
    change_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uln text NOT NULL,
    ability_to_share smallint NOT NULL,
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS sharing_changes_of_learner ON sharing_changes (uln, change_id DESC);
