-- How many of the events a retry re-applied were applied already, and left as they were (a corrected copy of an
-- event applied meanwhile is one): `lrs dlq history` showed such a retry as "0 applied, 0 skipped, 0 still
-- parked", as if it did nothing. NULL for the actions recorded before this column.
ALTER TABLE dead_letter_actions ADD COLUMN duplicates integer;
