-- Decision 0129: an operator can email an account's person a link to choose a password; the link sent is kept
-- in the audit of account changes.
ALTER TABLE account_changes DROP CONSTRAINT account_changes_change_check;
ALTER TABLE account_changes ADD CONSTRAINT account_changes_change_check CHECK (change IN (
    'created', 'disabled', 'password_reset', 'password_changed', 'reset_link_requested', 'password_reset_by_link',
    'first_password_link_sent', 'password_link_sent', 'email_changed', 'duties_changed', 'ao_key_issued',
    'ao_key_revoked'));
