-- Who made and who revoked each API key, where the caller says (`lrs credentials` does: login@host): no service
-- stands between an operator's `lrs credentials` and these tables, so the key store keeps it itself. A rotation is
-- its new key's `created` and the old keys' `revoked`, by the same person at the same time.
-- A table of its own rather than columns of `credentials`: `credentials` belongs to whichever service migrated
-- `identity` first, and only its owner may alter it. Granted to the schema's owner (lrs_services on Kubernetes), so
-- that every service and the database owner (`lrs credentials`) read and add to it, whoever made it.
CREATE TABLE key_changes (
    key_id      text NOT NULL,
    change      text NOT NULL CHECK (change IN ('created', 'revoked')),
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (key_id, change)
);

DO $$
BEGIN
    EXECUTE format(
        'GRANT SELECT, INSERT ON key_changes TO %I',
        (SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = current_schema())
    );
END
$$;
