-- Who retried or skipped a parked message is kept with the API key they did it with (`acted_with_key`, the key's id),
-- as a batch keeps `submitted_with_key`: a principal such as `operator:alex` is whatever a key's maker chose, so a
-- portal user's action and another key's with the same principal read alike without it. Null for actions before.
-- A new row only: decision 0200's trigger (migration 0004) still refuses any UPDATE or DELETE.
ALTER TABLE dead_letter_actions ADD COLUMN acted_with_key text;
