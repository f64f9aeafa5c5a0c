-- The decider loads every ULN merged with the ones a batch names, following merges both ways
-- (reference_store.learners_for); this finds the ULNs merged into a master without a scan.
CREATE INDEX learners_by_master ON learners (master_uln) WHERE master_uln IS NOT NULL;
