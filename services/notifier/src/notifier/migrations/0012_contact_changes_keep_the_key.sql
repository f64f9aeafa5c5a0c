-- The API key a challenge contact was set with (its id, never the secret), beside the principal that set it, as a
-- batch keeps `submitted_with_key` (ingest migration 0112): an AO's principal (`ao:RN9093`) is every key and portal
-- account of the organisation, so a change nobody there meant names the key to revoke (decision 0170's threat). A
-- portal change names the user's session key, whose label names them. NULL for changes made before this was kept.
ALTER TABLE challenge_contacts ADD COLUMN updated_with_key text;
ALTER TABLE contact_change_notices ADD COLUMN changed_with_key text;
