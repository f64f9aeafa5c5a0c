-- A failed batch recorded nothing, so the same file sent again is judged again (decision 0185): a batch failed
-- before this gives up its content dedup key as one failed from now on does. One sent under an Idempotency-Key
-- keeps its key.
UPDATE batches SET dedup_key = NULL
 WHERE status = 'failed' AND idempotency_key IS NULL AND dedup_key IS NOT NULL;
