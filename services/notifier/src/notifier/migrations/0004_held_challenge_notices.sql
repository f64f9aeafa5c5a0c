-- A challenge raised against an AO with no challenge contact is held here (decision 0155), not skipped:
-- its event waits (`due_at` infinity, so the deferred emails' loop never takes it) until the AO's contact
-- is set, and is then due at once. `held_for_ao` stays set once released, so the email can say it was held.
ALTER TABLE deferred_emails ADD COLUMN held_for_ao text;
CREATE INDEX deferred_emails_held ON deferred_emails (held_for_ao) WHERE held_for_ao IS NOT NULL;
