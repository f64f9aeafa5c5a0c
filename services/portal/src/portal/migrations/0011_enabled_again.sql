-- A disabled account can be enabled again (its password as it was, no lock-out); the change is kept in the audit.
ALTER TABLE account_changes DROP CONSTRAINT account_changes_change_check;
ALTER TABLE account_changes ADD CONSTRAINT account_changes_change_check CHECK (change IN (
    'created', 'disabled', 'enabled', 'password_reset', 'password_changed', 'reset_link_requested',
    'password_reset_by_link', 'first_password_link_sent', 'password_link_sent', 'email_changed', 'duties_changed',
    'ao_key_issued', 'ao_key_revoked'));
