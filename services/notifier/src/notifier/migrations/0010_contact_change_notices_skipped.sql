-- A contact-change notice is not sent to an old address the LRS knows refuses mail: the contact replaced had refused a
-- challenge notice for good (`deferred_emails.refused_contact_at`), which is why the AO set another. Recorded as
-- skipped at the change, its address and name not kept, so it is neither tried nor counted as given up.
ALTER TABLE contact_change_notices ADD COLUMN skipped_at timestamptz;
