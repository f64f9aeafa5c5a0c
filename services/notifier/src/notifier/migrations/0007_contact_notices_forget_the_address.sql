-- A notice to a challenge contact's old address needs the address and name only until it is sent or given up:
-- then they go (privacy.md), the row staying as the record that the old address was told, when, of what change.
ALTER TABLE contact_change_notices ALTER COLUMN old_email DROP NOT NULL, ALTER COLUMN old_name DROP NOT NULL;
UPDATE contact_change_notices SET old_email = NULL, old_name = NULL WHERE sent_at IS NOT NULL OR failed_at IS NOT NULL;
