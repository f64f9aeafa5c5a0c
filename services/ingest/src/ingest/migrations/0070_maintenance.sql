-- Planned maintenance windows and unplanned pauses (decision 0070), each with who changed it and when.
-- A change bumps the one row of maintenance_version first: changes queue on its lock, so the schedules
-- ingest publishes are numbered in the order their changes committed.
CREATE TABLE maintenance_windows (
    window_id     uuid PRIMARY KEY,
    starts_at     timestamptz NOT NULL,
    ends_at       timestamptz NOT NULL CHECK (ends_at > starts_at),
    reason        text NOT NULL,
    scheduled_by  text NOT NULL,
    scheduled_at  timestamptz NOT NULL DEFAULT now(),
    cancelled_by  text,
    cancelled_at  timestamptz
);

CREATE TABLE maintenance_pauses (
    pause_id    bigserial PRIMARY KEY,
    reason      text NOT NULL,
    paused_by   text NOT NULL,
    paused_at   timestamptz NOT NULL DEFAULT now(),
    resumed_by  text,
    resumed_at  timestamptz
);
CREATE UNIQUE INDEX maintenance_one_pause_on ON maintenance_pauses ((true)) WHERE resumed_at IS NULL;

CREATE TABLE maintenance_version (
    only_row  boolean PRIMARY KEY DEFAULT true CHECK (only_row),
    version   bigint NOT NULL
);
INSERT INTO maintenance_version (version) VALUES (0);
