-- The API key each of who acknowledged and who resolved a challenge used (its id, never the secret), beside the
-- principal (migration 0010), as a batch keeps `submitted_with_key`: an AO's several systems and portal users share
-- its principal `ao:<id>`, and a portal user's session key is labelled with their username, so this says which of
-- them answered, and which answers a leaked key gave. A withdrawal is a resolution: `resolved_with_key` is the
-- learner's key (or the operator's who withdrew it for them). NULL for a change made before this was kept, and for
-- one restored from the log (decision 0172): no event carries the key.
ALTER TABLE challenges ADD COLUMN acknowledged_with_key text, ADD COLUMN resolved_with_key text;
