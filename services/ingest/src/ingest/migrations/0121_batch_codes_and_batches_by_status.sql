-- Every AO's batches of one state, newest first (the operators' failed, refused and abandoned lists), and their
-- count: read from this index, not from the whole table filtered (an AO's list keeps `batches_history_by_ao`). Built
-- as ingest's other indexes on `batches` are (0113, 0118): in the migration's transaction (CONCURRENTLY cannot run
-- in one), which holds the batches' writes, not their reads, for the one pass over the table the build takes.
CREATE INDEX batches_history_by_status ON batches (status, received_at DESC, batch_id DESC);

-- The codes of a chunk's findings (errors and warnings), sorted, each once: a batch's codes, and which of its chunks
-- hold a code's records, without reading its records. Written with every chunk stored from now on; NULL for the
-- chunks stored before, whose codes are read from their outcomes when asked. Not filled here: that would read every
-- chunk's JSON again while this transaction holds the table (ADD COLUMN locks it until the commit).
ALTER TABLE batch_record_chunks ADD COLUMN codes text[];
