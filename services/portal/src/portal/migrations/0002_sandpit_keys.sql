-- A session's key for the Sandpit (decision 0060), issued the first time the person opens it, in the
-- Sandpit's own identity store; sealed like the live one, and revoked with the session.
ALTER TABLE sessions ADD COLUMN sandpit_key_id text;
ALTER TABLE sessions ADD COLUMN sealed_sandpit_key bytea;
