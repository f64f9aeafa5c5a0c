-- The CPU time a rebuild worker has used: its cost per event, whatever else shares the machine.
ALTER TABLE rebuild_workers ADD COLUMN cpu_seconds double precision NOT NULL DEFAULT 0;
