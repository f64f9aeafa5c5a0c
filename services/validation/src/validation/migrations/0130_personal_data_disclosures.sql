-- Who read a learner's personal data (`GET /v1/admin/learners/{uln}/personal-data`, decision 0191), when and why:
-- the audit a data protection officer answers to, and what a learner's next subject access answer lists. One row per
-- answer, written before it is sent (`validation.disclosures`). The ULN is kept in clear, as the erasure audit keeps
-- it: once the learner is erased it links to no name anywhere (decision 0080).
CREATE TABLE disclosures (
    disclosure_id uuid PRIMARY KEY,
    uln           text NOT NULL,
    read_by       text NOT NULL,
    read_at       timestamptz NOT NULL,
    -- the operator's own words, which may name the learner: emptied when the learner is erased (below)
    reason        text,
    reason_erased boolean NOT NULL DEFAULT false,
    CONSTRAINT an_erased_reason_is_not_kept CHECK (NOT reason_erased OR reason IS NULL)
);
-- Listed newest first, a page at a time (decision 0118), of everyone or of one ULN.
CREATE INDEX disclosures_newest_first ON disclosures (read_at DESC, disclosure_id);
CREATE INDEX disclosures_of_learner ON disclosures (uln, read_at DESC, disclosure_id);

-- An erasure keeps the disclosures (who read the learner's data, and when, stays accountable) but not their
-- reasons, as it empties a challenge's reason. It marks the registry row erased in its transaction (decision 0080),
-- so this runs there, for each ULN it erases. A disclosure being written takes the same row's lock first and writes
-- no reason for a learner erased by then (`Disclosures.record`): a reason is never kept beyond an erasure, whichever
-- of the two commits first.
CREATE FUNCTION erase_disclosure_reasons() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    UPDATE disclosures SET reason = NULL, reason_erased = true WHERE uln = NEW.uln AND reason IS NOT NULL;
    RETURN NULL;
END
$$;

CREATE TRIGGER learner_erased_empties_disclosure_reasons AFTER INSERT OR UPDATE OF erased_at ON learners
    FOR EACH ROW WHEN (NEW.erased_at IS NOT NULL) EXECUTE FUNCTION erase_disclosure_reasons();
