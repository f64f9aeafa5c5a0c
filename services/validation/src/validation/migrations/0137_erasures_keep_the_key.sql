-- Who erased a learner is kept with the API key they did it with (`erased_with_key`, the key's id), as a batch keeps
-- `submitted_with_key`: a principal such as `operator:alex` is whatever a key's maker chose, so a portal user's
-- erasure and another key's with the same principal read alike without it. Null for erasures before. A new row
-- only: decision 0200's trigger (migration 0135) still refuses any UPDATE or DELETE.
ALTER TABLE erasures ADD COLUMN erased_with_key text;
