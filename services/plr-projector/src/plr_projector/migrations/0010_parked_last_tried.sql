-- When an operator last retried (or skipped ahead in) a parked event's stream, while it stayed parked; NULL until
-- then. A drain deletes the stream's rows and parks what fails again as new rows: those keep the `parked_at` of the
-- rows they replace (when the event was first parked: how long its learner has been held) and get this instead
-- (`ReadModel.keep_parked_times`). Events re-parked by a failed retry before this migration show the retry's time.
ALTER TABLE parked ADD COLUMN last_tried_at timestamptz;
