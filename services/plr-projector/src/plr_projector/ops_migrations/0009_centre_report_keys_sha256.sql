-- A centre report's Idempotency-Key is free text the provider chooses, which may name the learner
-- (`<name>-<date of birth>-weaving`); it was kept here in clear for good, beside the report's id, after the learner's
-- erasure too. From now on only its SHA-256 is kept: the hex of the key's UTF-8 bytes, as
-- `centre_reports.key_sha256` makes it from each request's key. A key sent again is known as before (the same
-- report answered once, another refused 409); its text is not. Still unique per provider (the primary key). The
-- rows' old versions stay in the table's file and the WAL until the table is rewritten, as for the registry.
UPDATE centre_report_keys SET idempotency_key = encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex');
COMMENT ON COLUMN centre_report_keys.idempotency_key IS
    'SHA-256 (hex) of the Idempotency-Key the provider sent (UTF-8), never the key itself (migration 0009)';
