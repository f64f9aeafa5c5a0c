-- Who switched to or abandoned a rebuild, as `started_by` says who started it: the operator who replaced the live
-- read model is kept with the rebuild, not only in a log line. Null for rebuilds ended before this migration, and
-- for one still running.
ALTER TABLE rebuilds ADD COLUMN IF NOT EXISTS finished_by text;
