-- That this store began reading the topics from their beginnings (decision 0161, later): a store without it is
-- new, or was dropped to be rebuilt, and reads them from their beginnings whatever its consumer groups have read;
-- one with it began so already, though it may hold nothing yet (no batch decided). Written with the catch-up's
-- ends, in one transaction.
CREATE TABLE store_began (
    only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    began_at timestamptz NOT NULL DEFAULT now()
);
-- a store upgraded with facts in it began long ago
INSERT INTO store_began (only_row)
SELECT true
WHERE EXISTS (SELECT FROM batch_facts) OR EXISTS (SELECT FROM challenges)
    OR EXISTS (SELECT FROM rejection_codes) OR EXISTS (SELECT FROM plr_writes);
