-- How many records each AO has waiting for their decision (decision 0171): read before every submission, so an
-- index of only the undecided batches, which carries their sizes.
CREATE INDEX batches_waiting_by_ao ON batches (ao_id) INCLUDE (record_count)
    WHERE status IN ('received', 'accepted', 'validating');
