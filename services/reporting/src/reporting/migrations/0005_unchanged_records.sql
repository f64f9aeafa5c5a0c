-- The unchanged (no-op) records of a completed batch, counted on their own in the submissions aggregate. A
-- completed batch's records are accepted, rejected or unchanged, so its stored facts give them exactly; a failed
-- batch records nothing (its would-be accepted records are not "unchanged"), nor does an abandoned one.
ALTER TABLE batch_facts ADD COLUMN records_unchanged integer;
UPDATE batch_facts SET records_unchanged = CASE
    WHEN completed THEN records_total - records_accepted - records_rejected
    ELSE 0
END;
ALTER TABLE batch_facts ALTER COLUMN records_unchanged SET NOT NULL, ALTER COLUMN records_unchanged SET DEFAULT 0;
