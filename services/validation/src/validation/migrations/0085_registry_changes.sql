-- Decision 0085: the decider reads the registry a chunk of a batch at a time, as the chunks arrive.
-- At the batch's end it asks whether a transaction that changed the registry committed since its
-- first read: if one did, it reads the registry again for the whole batch. Each such transaction
-- leaves its id here, once, without waiting for any other (no lock is shared between them).
CREATE TABLE registry_changes (
    xid         xid8 PRIMARY KEY,
    recorded_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX registry_changes_by_age ON registry_changes (recorded_at);

CREATE FUNCTION note_registry_change() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $$
BEGIN
    INSERT INTO registry_changes (xid) VALUES (pg_current_xact_id()) ON CONFLICT DO NOTHING;
    RETURN NULL;
END
$$;

CREATE TRIGGER learners_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON learners
    FOR EACH STATEMENT EXECUTE FUNCTION note_registry_change();
