-- When an AO's challenge contact moves to another address, the address it leaves is told (the portal tells an
-- account's old address the same): a key used by someone else could otherwise send learners' challenges
-- elsewhere unseen. Written in the change's own transaction; sent by the deferred emails' loop, once.
CREATE TABLE contact_change_notices (
    notice_id   uuid PRIMARY KEY,
    ao_id       text NOT NULL,
    old_email   text NOT NULL,
    old_name    text NOT NULL,
    changed_by  text NOT NULL,
    changed_at  timestamptz NOT NULL,
    tries       integer NOT NULL DEFAULT 0,
    due_at      timestamptz NOT NULL DEFAULT now(),
    sent_at     timestamptz,
    failed_at   timestamptz
);
CREATE INDEX contact_change_notices_due ON contact_change_notices (due_at) WHERE sent_at IS NULL AND failed_at IS NULL;
