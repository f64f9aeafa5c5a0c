-- A challenge notice the AO's contact's mailbox refused for good (550: the person left) is held for the AO as
-- one without a contact is (decision 0155), until the AO sets another contact: the `updated_at` of the contact
-- that refused it, so the deferred emails' loop releases it only for a contact set after that one (the contact's
-- own transaction releases every held notice of its AO). Null for a notice held for want of any contact.
ALTER TABLE deferred_emails ADD COLUMN refused_contact_at timestamptz;
