-- The keys (`QAN|pathway`) whose last message on live's compacted catalogue topic (`lrs.reference.qualifications.v1`)
-- may be a row: those of the last load published whole, and those of any load whose publishing was started since
-- (`validation.catalogue_publisher`). A reference load tombstones every key here that it lacks, then, once every row
-- and tombstone is acknowledged, keeps only its own keys. So a publish that failed after its load was committed
-- (Kafka away), retried by the operator, or two loads at once (they take turns), still tombstone each qualification
-- removed since the last published load. Written under the advisory lock `validation catalogue publish`.
-- Filled here with the keys of the catalogue the store holds, which the load that made it published: the first load
-- after this release tombstones what it removes of them. Empty on a first start, until the first load of the shipped
-- files publishes and fills it. The Sandpit never publishes; what it holds here is never read.
CREATE TABLE published_catalogue_keys (
    key text PRIMARY KEY
);
INSERT INTO published_catalogue_keys (key)
SELECT DISTINCT qualification_number || '|' || pathway FROM qualifications
ON CONFLICT DO NOTHING;
