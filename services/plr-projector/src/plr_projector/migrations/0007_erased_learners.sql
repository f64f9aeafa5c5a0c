-- The learners erased (`lrs.learner.erased.v1`, decision 0080): no centre report is taken for them, as
-- it would put words about them on the log for good. Erasures projected before this migration are not
-- here until a rebuild is switched to: the live projection kept nothing of them.
CREATE TABLE erased_learners (
    uln text PRIMARY KEY
);
