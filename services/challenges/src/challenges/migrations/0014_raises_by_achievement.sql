-- A raise counts the achievement's raises of the last day, open or resolved (`RaiseLimit`, walk report
-- "challenges" finding 1: a raise-and-withdraw loop e-mailed the AO twice a turn): the newest of them, read here.
CREATE INDEX IF NOT EXISTS challenges_by_achievement_newest ON challenges (achievement_id, raised_at DESC);
