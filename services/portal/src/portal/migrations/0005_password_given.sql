-- Decision 0127: whether the account's password is one an operator was shown (made with the account, or
-- by a reset), which the person is asked to change; their own new password clears it, and is kept in the
-- audit of account changes as `password_changed`.
ALTER TABLE accounts ADD COLUMN password_given boolean NOT NULL DEFAULT false;
ALTER TABLE account_changes DROP CONSTRAINT account_changes_change_check;
ALTER TABLE account_changes ADD CONSTRAINT account_changes_change_check CHECK (change IN (
    'created', 'disabled', 'password_reset', 'password_changed', 'duties_changed', 'ao_key_issued', 'ao_key_revoked'));
