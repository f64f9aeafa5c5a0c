CREATE TABLE accounts (
    username         text PRIMARY KEY,
    display_name     text NOT NULL,
    email            text,
    role             text NOT NULL CHECK (role IN ('ao', 'operator')),
    ao_id            text,
    password_hash    text NOT NULL,
    failed_attempts  integer NOT NULL DEFAULT 0,
    locked_until     timestamptz,
    disabled_at      timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    password_set_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((role = 'ao') = (ao_id IS NOT NULL))
);

-- The cookie holds the session token; only its SHA-256 is stored. The service key issued for the
-- session is sealed with a pad derived from the token, so this table alone opens no service.
CREATE TABLE sessions (
    token_hash       text PRIMARY KEY,
    username         text NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    csrf_token       text NOT NULL,
    service_key_id   text NOT NULL,
    sealed_service_key bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_seen_at     timestamptz NOT NULL DEFAULT now(),
    expires_at       timestamptz NOT NULL
);
CREATE INDEX sessions_username ON sessions (username);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- Check, then submit: an uploaded file waits here between its offline check and its submission.
CREATE TABLE uploads (
    upload_id        uuid PRIMARY KEY,
    username         text NOT NULL REFERENCES accounts (username) ON DELETE CASCADE,
    filename         text NOT NULL,
    content_type     text,
    content          bytea NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX uploads_created ON uploads (created_at);
