-- Reference data (versioned by reference_loads) and the learner registry.
CREATE TABLE awarding_organisations (
    ao_id text PRIMARY KEY,
    name  text NOT NULL
);

CREATE TABLE qualifications (
    qualification_number text NOT NULL,
    pathway              text NOT NULL DEFAULT '',
    title                text NOT NULL,
    ao_id                text NOT NULL,
    ao_name              text NOT NULL,
    level                text,
    qualification_type   text NOT NULL,
    framework            text NOT NULL,
    kind                 text NOT NULL,
    grade_set            text[] NOT NULL,
    source               text NOT NULL,
    PRIMARY KEY (qualification_number, pathway)
);

CREATE TABLE reference_loads (
    version    bigserial PRIMARY KEY,
    what       text NOT NULL,
    rows       integer NOT NULL,
    loaded_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE learners (
    uln              text PRIMARY KEY,
    given_name       text NOT NULL,
    family_name      text NOT NULL,
    date_of_birth    date,
    gender           smallint NOT NULL DEFAULT 0,
    ability_to_share smallint NOT NULL DEFAULT 0,
    master_uln       text REFERENCES learners (uln),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

-- Learner events are written here in the same transaction as the registry change, then relayed
-- to lrs.learner.events.v1 in id order (transactional outbox).
CREATE TABLE learner_outbox (
    id           bigserial PRIMARY KEY,
    uln          text NOT NULL,
    envelope     bytea NOT NULL,
    published_at timestamptz
);
CREATE INDEX learner_outbox_unpublished ON learner_outbox (id) WHERE published_at IS NULL;

-- The decider's state: every AO's achievements as of the last decided batch.
CREATE TABLE achievements (
    ao_id                text NOT NULL,
    uln                  text NOT NULL,
    qualification_number text NOT NULL,
    award_date           date NOT NULL,
    achievement_id       uuid NOT NULL,
    status               char(1) NOT NULL,
    withdrawn            boolean NOT NULL,
    data                 jsonb NOT NULL,
    last_batch_id        uuid NOT NULL,
    PRIMARY KEY (ao_id, uln, qualification_number, award_date)
);

-- A decided batch and the exact messages it publishes: written before the Kafka transaction, so a
-- decider killed in between republishes the same decision instead of deciding twice.
CREATE TABLE decisions (
    batch_id     uuid PRIMARY KEY,
    ao_id        text NOT NULL,
    failed       boolean NOT NULL,
    messages     bytea NOT NULL,
    decided_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz
);
