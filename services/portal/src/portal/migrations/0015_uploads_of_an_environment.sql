-- A checked file is submitted only in the environment it was checked in: live's submit does not find a file checked
-- in the Sandpit, nor the Sandpit's one checked live (a hand-made POST sent a Sandpit-checked file to live).
-- The files waiting when this was added (kept two hours at most) name no environment: they are dropped, and the
-- person checks the file again, rather than taken as live's. The column keeps a default for this release: the
-- replicas of the release before, still rolling, insert without naming it (a later release may drop the default).
DELETE FROM uploads WHERE content IS NOT NULL;
ALTER TABLE uploads ADD COLUMN environment text NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'sandpit'));
