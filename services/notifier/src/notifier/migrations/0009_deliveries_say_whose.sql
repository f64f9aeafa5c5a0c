-- Which batch or challenge a delivery was for (its events' correlation id), the AO it was for, and the domain of the
-- address it went to (never the address: privacy.md): an operator answering a given-up email's alert finds the batch
-- and the AO here (`GET /v1/deliveries/failed`, `lrs emails failed`), not only in the logs while they are kept. Null
-- for a delivery recorded before this migration.
ALTER TABLE deliveries
    ADD COLUMN correlation_id   text,
    ADD COLUMN ao_id            text,
    ADD COLUMN recipient_domain text;
CREATE INDEX deliveries_failed ON deliveries (last_attempt_at DESC) WHERE status = 'failed';
