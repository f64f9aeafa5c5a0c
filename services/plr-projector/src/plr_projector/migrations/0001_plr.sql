-- The PLR read model. Everything here is derived from the log and deterministic: no wall-clock
-- value is written (times come from the events), so a rebuild reproduces it row for row.
-- The same migrations create a rebuild schema (plr_rebuild_<n>) that later replaces this one.

-- Next offset to read per partition, written in the same transaction as the rows below.
CREATE TABLE offsets (
    topic        text NOT NULL,
    partition    integer NOT NULL,
    next_offset  bigint NOT NULL,
    PRIMARY KEY (topic, partition)
);

-- Event ids already applied: upstream delivers at least once.
CREATE TABLE processed_events (
    event_id uuid PRIMARY KEY
);

CREATE TABLE learners (
    uln               text PRIMARY KEY,
    registered        boolean NOT NULL,
    ability_to_share  smallint NOT NULL,
    master_uln        text
);
CREATE INDEX learners_by_master ON learners (master_uln) WHERE master_uln IS NOT NULL;

-- One row per achievement key (AO, ULN, QAN, award date): Provisional and Final share it.
CREATE TABLE achievements (
    uln                        text NOT NULL,
    ao_id                      text NOT NULL,
    qualification_number       text NOT NULL,
    award_date                 date NOT NULL,
    achievement_id             uuid NOT NULL,
    status                     char(1) NOT NULL,
    withdrawn                  boolean NOT NULL,
    version                    integer NOT NULL,
    pathway                    text,
    grade                      text NOT NULL,
    ukprn                      text,
    language_for_assessment    text,
    credits                    integer,
    title                      text NOT NULL,
    qualification_type         text NOT NULL,
    level                      text,
    framework                  text NOT NULL,
    kind                       text NOT NULL,
    awarding_organisation_name text NOT NULL,
    date_loaded                timestamptz NOT NULL,
    last_changed_at            timestamptz NOT NULL,
    PRIMARY KEY (uln, ao_id, qualification_number, award_date)
);
CREATE INDEX achievements_by_ao ON achievements (ao_id, uln);
CREATE INDEX achievements_by_id ON achievements (achievement_id);

-- Every change of an achievement, with the state after it.
CREATE TABLE achievement_history (
    uln                      text NOT NULL,
    ao_id                    text NOT NULL,
    qualification_number     text NOT NULL,
    award_date               date NOT NULL,
    version                  integer NOT NULL,
    change                   text NOT NULL,
    event_id                 uuid NOT NULL,
    occurred_at              timestamptz NOT NULL,
    batch_id                 uuid NOT NULL,
    line                     integer NOT NULL,
    achievement_id           uuid NOT NULL,
    status                   char(1) NOT NULL,
    withdrawn                boolean NOT NULL,
    grade                    text NOT NULL,
    ukprn                    text,
    language_for_assessment  text,
    credits                  integer,
    pathway                  text,
    PRIMARY KEY (uln, ao_id, qualification_number, award_date, version)
);
CREATE INDEX achievement_history_by_batch ON achievement_history (batch_id);

-- Learning providers' (ILR) records: supporting data, never merged into an AO row.
CREATE TABLE centre_achievements (
    uln                       text NOT NULL,
    provider_ukprn            text NOT NULL,
    qualification_number      text NOT NULL,
    report_id                 uuid NOT NULL,
    event_id                  uuid NOT NULL,
    provider_name             text,
    subject                   text,
    grade                     text,
    award_date                date,
    participation_start_date  date,
    participation_end_date    date,
    reported_at               timestamptz NOT NULL,
    PRIMARY KEY (uln, provider_ukprn, qualification_number)
);

-- Event Data Challenges; an achievement is UnderDataChallenge while one of its challenges is open.
CREATE TABLE challenges (
    challenge_id    uuid PRIMARY KEY,
    achievement_id  uuid NOT NULL,
    ao_id           text NOT NULL,
    state           text NOT NULL
);
CREATE INDEX challenges_open ON challenges (achievement_id) WHERE state <> 'resolved';

-- Dead letters: a poison event ('error') and every later event of the same stream ('blocked'),
-- in log order, until an operator retries or skips. A stream is (topic, message key).
CREATE TABLE parked (
    topic          text NOT NULL,
    partition      integer NOT NULL,
    "offset"       bigint NOT NULL,
    park_key       text NOT NULL,
    reason         text NOT NULL CHECK (reason IN ('error', 'blocked')),
    error          text,
    event_id       uuid,
    event_type     text,
    message_key    bytea,
    value          bytea,
    kafka_timestamp_ms bigint NOT NULL,
    attempts       integer NOT NULL DEFAULT 0,
    dlq_pending    boolean NOT NULL DEFAULT false,
    parked_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition, "offset")
);
CREATE INDEX parked_by_stream ON parked (topic, park_key, partition, "offset");
CREATE INDEX parked_dlq_pending ON parked (topic, partition, "offset") WHERE dlq_pending;
