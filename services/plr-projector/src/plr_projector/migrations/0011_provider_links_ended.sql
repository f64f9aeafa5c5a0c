-- The links a provider's own registration of a ULN made that validation ended because a learner file or a merge
-- showed the ULN was another learner's (`lrs.learner.provider.unlinked.v1`, decision 0121, later note of 2026-12-06).
-- Kept, never deleted: the centre reports that provider made for the learner, under any of their ULNs, are not shown
-- while it is linked to none of them (`ReadModel.centre`), so an operator who links it again shows them again. The
-- reports stay in `centre_achievements` as the log has them. Links ended before this migration are here once a
-- rebuild is switched to (the live projection only deleted them from `provider_links`).
CREATE TABLE provider_links_ended (
    uln            text NOT NULL,
    provider_ukprn text NOT NULL,
    PRIMARY KEY (uln, provider_ukprn)
);
