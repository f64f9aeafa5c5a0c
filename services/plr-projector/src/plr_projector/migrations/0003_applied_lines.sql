-- Achievement events of validation's decisions are deduplicated by where they stand in their batch
-- instead of by id (decision 0097): per partition and batch, the highest line applied and the offset
-- it was read at. A batch's events reach a partition in line order and a copy of them (a decision
-- published again) comes after them all, so an event at or below the mark and past its offset is a copy.
CREATE TABLE applied_lines (
    batch_id   uuid NOT NULL,
    partition  integer NOT NULL,
    line       integer NOT NULL,
    "offset"   bigint NOT NULL,
    PRIMARY KEY (batch_id, partition)
);

-- The ids of the achievement events applied before this migration, which still tell a copy of one
-- of them, and their batches (whose events are looked up here too). Nothing adds to them.
CREATE TABLE legacy_events (
    event_id  uuid PRIMARY KEY
);
CREATE TABLE legacy_batches (
    batch_id  uuid PRIMARY KEY
);
INSERT INTO legacy_events SELECT DISTINCT h.event_id FROM achievement_history h JOIN processed_events p USING (event_id);
INSERT INTO legacy_batches SELECT DISTINCT batch_id FROM achievement_history;
DELETE FROM processed_events p USING legacy_events l WHERE p.event_id = l.event_id;
