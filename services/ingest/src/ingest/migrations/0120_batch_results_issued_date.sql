-- The header's ResultsIssuedDate, from which timeliness MI counts a batch's working days: the batch view shows it, so
-- that an AO whose MI says a batch took 580 working days can find the batch and the date it counted from. NULL when
-- the header gave none, for a refused file, and for batches received before this was kept.
ALTER TABLE ingest.batches ADD COLUMN results_issued_date date;
