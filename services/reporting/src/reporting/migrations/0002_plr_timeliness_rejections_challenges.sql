-- Each batch's results issued date, for timeliness to the PLR (rows from before stay NULL: not measured).
ALTER TABLE batch_facts ADD COLUMN results_issued date;

-- When each batch's events of one qualification were last written to lrs.plr.events.v1 (broker time).
CREATE TABLE plr_writes (
    batch_id              uuid NOT NULL,
    qualification_number  text NOT NULL,
    ao_id                 text NOT NULL,
    last_written_at       timestamptz NOT NULL,
    PRIMARY KEY (batch_id, qualification_number)
);

-- Qualification types as the PLR log's recorded achievements name them (joined when aggregating).
CREATE TABLE qualification_types (
    qualification_number  text PRIMARY KEY,
    qualification_type    text NOT NULL
);

-- One row per challenge; each event fills in its own columns and never overwrites them.
CREATE TABLE challenges (
    challenge_id     uuid PRIMARY KEY,
    ao_id            text NOT NULL,
    raised_at        timestamptz,
    acknowledged_at  timestamptz,
    resolved_at      timestamptz,
    resolution       text
);
CREATE INDEX challenges_by_ao ON challenges (ao_id, raised_at);
