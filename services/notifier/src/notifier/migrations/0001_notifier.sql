-- Who each AO wants challenge emails sent to (DOMAIN.md §5 rule 13); the AO changes it itself.
CREATE TABLE challenge_contacts (
    ao_id        text PRIMARY KEY,
    given_name   text NOT NULL,
    family_name  text NOT NULL,
    telephone    text NOT NULL,
    email        text NOT NULL,
    updated_by   text NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);

-- One row per event that should cause an email: a redelivered event already 'sent' is not sent again.
CREATE TABLE deliveries (
    event_id          uuid PRIMARY KEY,
    event_type        text NOT NULL,
    message_id        text NOT NULL,
    status            text NOT NULL CHECK (status IN ('pending', 'sent', 'failed', 'skipped')),
    attempts          integer NOT NULL DEFAULT 0,
    last_error        text,
    first_attempt_at  timestamptz NOT NULL DEFAULT now(),
    last_attempt_at   timestamptz NOT NULL DEFAULT now(),
    sent_at           timestamptz
);
CREATE INDEX deliveries_unsent ON deliveries (status) WHERE status <> 'sent';
