-- The learners' data keys (lrs_platform/keyring.py, decision 0080). Owned by the validation service.
-- A row is found by learner_ref = HMAC-SHA256(derived key, ULN): the table lists no ULN.
-- wrapped_key is the AES-256 data key sealed under a key derived from LRS_KEYRING_KEY; NULL once the
-- learner is erased, and the row stays as a tombstone so the key is never created again.
CREATE SCHEMA IF NOT EXISTS learner_keys;

CREATE TABLE IF NOT EXISTS learner_keys.keys (
    learner_ref  bytea PRIMARY KEY,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    erased_at    timestamptz,
    CONSTRAINT an_erased_learner_has_no_key CHECK ((wrapped_key IS NULL) = (erased_at IS NOT NULL))
);

-- One row: a fingerprint of the keyring key the store was made with. A service given another key
-- would otherwise find no keys and quietly make a second set nobody else can open.
CREATE TABLE IF NOT EXISTS learner_keys.keyring (
    only_row     boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    fingerprint  bytea NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Which wrapping key wraps the row's data key (decision 0116): 0 is the one derived from LRS_KEYRING_KEY,
-- others are the operator's (LRS_KEYRING_WRAPPING_KEYS). Rows from before have 0.
ALTER TABLE learner_keys.keys ADD COLUMN IF NOT EXISTS wrapped_by smallint NOT NULL DEFAULT 0;
