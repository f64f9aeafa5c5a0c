-- A record's outcome is found by its batch and line only (decision 0092): a page of one status reads its
-- batch's rows through the primary key and filters them (~0.3 ms a 1,000 rows), and no second index
-- costs every stored outcome ~1.2 µs of the server's CPU.
DROP INDEX IF EXISTS batch_records_by_status;
