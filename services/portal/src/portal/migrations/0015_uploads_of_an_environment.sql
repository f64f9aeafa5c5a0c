-- A checked file is submitted only in the environment it was checked in: live's submit does not find a file checked
-- in the Sandpit, nor the Sandpit's one checked live (a hand-made POST sent a Sandpit-checked file to live). The
-- uploads waiting when this was added (kept two hours at most) are taken as live's; every new one names its own.
ALTER TABLE uploads ADD COLUMN environment text NOT NULL DEFAULT 'live' CHECK (environment IN ('live', 'sandpit'));
ALTER TABLE uploads ALTER COLUMN environment DROP DEFAULT;
