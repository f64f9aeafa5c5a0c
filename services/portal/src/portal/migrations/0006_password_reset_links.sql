-- Decision 0128: a person who has forgotten their password asks for a link by email. Only the link's hash is
-- kept; it works once, for a short while, and only while the account's password is still the one it was sent
-- for (`password_set_at`): any change of password since (a reset, their own change, another link) ends it.
CREATE TABLE password_reset_links (
    token_hash       text PRIMARY KEY,
    username         text NOT NULL REFERENCES accounts (username),
    password_set_at  timestamptz NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL,
    used_at          timestamptz
);
CREATE INDEX password_reset_links_by_account ON password_reset_links (username, created_at);
ALTER TABLE account_changes DROP CONSTRAINT account_changes_change_check;
ALTER TABLE account_changes ADD CONSTRAINT account_changes_change_check CHECK (change IN (
    'created', 'disabled', 'password_reset', 'password_changed', 'reset_link_requested', 'password_reset_by_link',
    'duties_changed', 'ao_key_issued', 'ao_key_revoked'));
