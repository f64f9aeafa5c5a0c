-- Names this database's schedule on the maintenance topic: a reader takes a schedule with another id
-- whatever its version (this database was made anew), and compares versions only within one id.
ALTER TABLE maintenance_version ADD COLUMN schedule_id uuid NOT NULL DEFAULT gen_random_uuid();
