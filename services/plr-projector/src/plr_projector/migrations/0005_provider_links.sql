-- The learning providers linked to each learner (`lrs.learner.provider.linked.v1`, decision 0121): only a
-- linked provider reads a learner's PLR or reports centre achievements for them. Links are never undone.
CREATE TABLE provider_links (
    uln            text NOT NULL,
    provider_ukprn text NOT NULL,
    PRIMARY KEY (uln, provider_ukprn)
);
