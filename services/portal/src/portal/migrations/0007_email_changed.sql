-- Decision 0128: an account's email address, where forgotten-password links go, can change; each change is
-- kept in the audit of account changes.
ALTER TABLE account_changes DROP CONSTRAINT account_changes_change_check;
ALTER TABLE account_changes ADD CONSTRAINT account_changes_change_check CHECK (change IN (
    'created', 'disabled', 'password_reset', 'password_changed', 'reset_link_requested', 'password_reset_by_link',
    'email_changed', 'duties_changed', 'ao_key_issued', 'ao_key_revoked'));
