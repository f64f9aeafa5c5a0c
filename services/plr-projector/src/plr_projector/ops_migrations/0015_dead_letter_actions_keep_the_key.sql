-- Who retried or skipped a parked PLR event is kept with the API key they did it with (`acted_with_key`, the key's
-- id), as a batch keeps `submitted_with_key`: a principal such as `operator:alex` is whatever a key's maker chose, so
-- a portal user's action and another key's with the same principal read alike without it. Null for actions before.
-- Written in the INSERT that records the action: decision 0200's trigger (migration 0014) still allows only
-- `batch_id` to be set afterwards.
ALTER TABLE dead_letter_actions ADD COLUMN acted_with_key text;
