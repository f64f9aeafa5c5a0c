-- The API key a batch was submitted with (its id, never the secret): an operator tells which of an AO's systems
-- sent a batch, or which batches a leaked key sent; a portal upload names the uploader's session key, whose
-- label names them. NULL for batches submitted before this was kept.
ALTER TABLE ingest.batches ADD COLUMN submitted_with_key text;
