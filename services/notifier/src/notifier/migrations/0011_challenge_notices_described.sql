-- What a challenge's raise notice said of the challenged achievement, so that a notice of its withdrawal
-- (`lrs.challenge.resolved.v1`, `withdrawn`: decision 0194) names it again as the contact read it: the
-- qualification, award date, grade and the rest of `ChallengedAchievement` as on the topic but without the ULN,
-- the ULN as the email masked it, and when the challenge was raised. No reason, no name. Written when the notifier
-- first handles the raise; deleted when the challenge ends (resolved or withdrawn).
CREATE TABLE challenge_notices (
    challenge_id  uuid PRIMARY KEY,
    ao_id         text NOT NULL,
    achievement   jsonb,
    uln_masked    text NOT NULL,
    raised_at     timestamptz NOT NULL,
    recorded_at   timestamptz NOT NULL DEFAULT now()
);
-- A withdrawal finds its challenge's raise notice by the challenge's id (a delivery's correlation id, migration 0009).
CREATE INDEX deliveries_correlation ON deliveries (correlation_id) WHERE correlation_id IS NOT NULL;
