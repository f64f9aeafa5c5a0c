-- Every batch one API key sent, newest first (after a key leaked, an operator's `lrs batch list --key-id`): read
-- from this index, not from the whole table filtered. Batches sent before the key was kept (0112) have none. Built
-- as ingest's other indexes on `batches` are (0113, 0118, 0121): in the migration's transaction, which holds back
-- uploads for one pass over the table. Partial: a batch with no key (sent before 0112) is never asked for by one.
CREATE INDEX batches_by_key ON batches (submitted_with_key, received_at DESC, batch_id DESC)
    WHERE submitted_with_key IS NOT NULL;
