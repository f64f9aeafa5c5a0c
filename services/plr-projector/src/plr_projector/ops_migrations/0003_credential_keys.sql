-- Signing keys of verifiable PLR credentials (decision 0050). Here, outside the read-model schema,
-- because a rebuild switch replaces that schema and credentials must stay verifiable across it.
-- The private key is sealed (AES-256-GCM under the projector's key-encryption key, the key id as
-- associated data); the public key stays readable for the JWKS, retired keys included.
CREATE TABLE credential_keys (
    key_id             text PRIMARY KEY,
    public_key         bytea NOT NULL CHECK (length(public_key) = 32),
    sealed_private_key bytea NOT NULL,
    created_by         text NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    retired_at         timestamptz
);

-- At most one active key: the one new credentials are signed with.
CREATE UNIQUE INDEX credential_keys_one_active ON credential_keys ((retired_at IS NULL)) WHERE retired_at IS NULL;
