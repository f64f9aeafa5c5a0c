-- The batches still waiting for their decision, oldest first: the outcome consumer's first start and the
-- batch view's reconciler look for them.
CREATE INDEX batches_undecided ON batches (received_at) WHERE status IN ('received', 'accepted', 'validating');
