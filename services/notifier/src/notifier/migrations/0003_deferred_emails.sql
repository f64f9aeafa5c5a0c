-- Emails whose recipient the relay refused for now (a full mailbox, greylisting): kept aside and tried
-- again when due, so the emails behind them on their partition go on meanwhile. The event is kept, not the
-- email: it is composed again at each try (a challenge's reason is opened with the learner's key then,
-- so an erasure in between is honoured). A row leaves once its email is sent or given up.
CREATE TABLE deferred_emails (
    event_id    uuid PRIMARY KEY,
    envelope    bytea NOT NULL,
    tries       integer NOT NULL,  -- how often the relay refused its recipient (not the relay's absences)
    due_at      timestamptz NOT NULL,
    deferred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX deferred_emails_due ON deferred_emails (due_at);
