-- A retired signing key keeps only its public half (decision 0178): whoever later reads the database and
-- the key-encryption key must not be able to sign with it. Its public half stays in the JWKS, so what it
-- signed still verifies, unless an operator withdraws it after a suspected leak: then it leaves the JWKS
-- too, and nothing it signed verifies any more. Who withdrew it, when and why stay here.
ALTER TABLE credential_keys ALTER COLUMN sealed_private_key DROP NOT NULL;
ALTER TABLE credential_keys ADD COLUMN withdrawn_at timestamptz;
ALTER TABLE credential_keys ADD COLUMN withdrawn_by text;
ALTER TABLE credential_keys ADD COLUMN withdrawal_reason text;

UPDATE credential_keys SET sealed_private_key = NULL WHERE retired_at IS NOT NULL;

ALTER TABLE credential_keys ADD CONSTRAINT credential_keys_only_the_active_key_can_sign
    CHECK ((retired_at IS NULL) = (sealed_private_key IS NOT NULL));
ALTER TABLE credential_keys ADD CONSTRAINT credential_keys_withdrawn_when_retired_by_whom_and_why
    CHECK (withdrawn_at IS NULL OR (retired_at IS NOT NULL AND withdrawn_by IS NOT NULL AND withdrawal_reason IS NOT NULL));
