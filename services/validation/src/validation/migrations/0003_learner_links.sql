-- Providers linked to a learner: the one that registered the learner, and any an operator linked.
-- A linked provider may change the learner's ability to share (docs/decisions/0032).
CREATE TABLE learner_links (
    uln            text NOT NULL REFERENCES learners (uln),
    provider_ukprn text NOT NULL,
    linked_by      text NOT NULL,
    linked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (uln, provider_ukprn)
);
