-- Decision 0126: who changed which account or AO key in the portal, and when: written with the change.
CREATE TABLE account_changes (
    change_id   bigserial PRIMARY KEY,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    changed_by  text NOT NULL,  -- the principal that made it: operator:<username>, from a session or a key
    subject     text NOT NULL,  -- the account's username, or an AO key's principal (ao:<id>)
    change      text NOT NULL CHECK (change IN (
                    'created', 'disabled', 'password_reset', 'duties_changed', 'ao_key_issued', 'ao_key_revoked')),
    detail      text NOT NULL DEFAULT ''
);
