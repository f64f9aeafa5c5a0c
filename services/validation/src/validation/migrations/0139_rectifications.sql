-- A learner's details corrected as the same person (UK GDPR Art. 16, `POST /v1/admin/learners/{uln}/correction`):
-- one row a correction, written in its transaction: the learner's ULNs whose details it changed (the master and its
-- merged ULNs), which fields changed (their names, never their values: the earlier details stay sealed on the learner
-- log), the operator's reason, who corrected them, with which API key, and when. Kept through an erasure, as the
-- erasures' audit is. Only ever added to (decision 0200: `refuse_audit_change`, migrations 0135 and 0138).
CREATE TABLE rectifications (
    rectification_id uuid PRIMARY KEY,
    ulns             text[] NOT NULL CHECK (cardinality(ulns) > 0),
    fields           text[] NOT NULL CHECK (
        cardinality(fields) > 0 AND fields <@ ARRAY['given_name', 'family_name', 'date_of_birth', 'gender']
    ),
    reason           text NOT NULL,
    corrected_by     text NOT NULL,
    corrected_with_key text,
    corrected_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX rectifications_of_learner ON rectifications USING gin (ulns);
CREATE INDEX rectifications_newest_first ON rectifications (corrected_at DESC, rectification_id);

CREATE TRIGGER rectifications_kept BEFORE UPDATE OR DELETE ON rectifications
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER rectifications_not_truncated BEFORE TRUNCATE ON rectifications
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
