CREATE TABLE credentials (
    key_id       text PRIMARY KEY,
    principal    text NOT NULL,
    scopes       text[] NOT NULL DEFAULT '{}',
    secret_hash  text NOT NULL,
    label        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);
CREATE INDEX credentials_principal ON credentials (principal) WHERE revoked_at IS NULL;
