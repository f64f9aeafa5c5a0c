-- Who linked a provider to a learner (letting it read their PLR while they share) and who ended the link, when and
-- why: `learner_links` holds only the links there are now, and an unlink deletes its row. One row a change of one
-- ULN's link, written in the transaction that makes the change: 'linked' where a link was made (a provider's
-- registration of the learner, an operator's link), 'unlinked' where one ended (an operator's unlink, a learner file
-- or a merge ending a registration's link, decision 0121). Linking again, or ending a link there is not, writes
-- nothing. `reason`: why, where the registry knows it (the routes take none from an operator). Nothing personal:
-- ULNs, UKPRNs and principals, kept through an erasure as the sharing changes are (decision 0166), and as the
-- erased learner's links themselves are. Only ever added to (decision 0200: `refuse_audit_change`, migration 0135).
CREATE TABLE link_changes (
    change_id  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uln        text NOT NULL,
    ukprn      text NOT NULL,
    change     text NOT NULL CHECK (change IN ('linked', 'unlinked')),
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now(),
    reason     text
);
CREATE INDEX link_changes_of_learner ON link_changes (uln, change_id DESC);

-- The links held now, each as a change: who made it (or last vouched for it, `link_provider`) and when it was made.
INSERT INTO link_changes (uln, ukprn, change, changed_by, changed_at, reason)
SELECT uln, provider_ukprn, 'linked', linked_by, linked_at,
       'held when validation began to keep link changes (migration 0136): earlier changes are not known'
FROM learner_links
ORDER BY linked_at, uln, provider_ukprn;

CREATE TRIGGER link_changes_kept BEFORE UPDATE OR DELETE ON link_changes
    FOR EACH ROW EXECUTE FUNCTION refuse_audit_change();
CREATE TRIGGER link_changes_not_truncated BEFORE TRUNCATE ON link_changes
    FOR EACH STATEMENT EXECUTE FUNCTION refuse_audit_change();
