-- A submitted upload keeps the id of the batch it made, its file dropped: "Submit" pressed again (the Back button,
-- a second click without JavaScript) goes to that batch instead of saying the upload is gone.
ALTER TABLE uploads ADD COLUMN submitted_batch uuid;
ALTER TABLE uploads ALTER COLUMN content DROP NOT NULL;
