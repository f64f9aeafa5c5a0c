-- Who acknowledged and who resolved each challenge (the AO's key, or an operator acting for it): what a
-- complaint about a challenge asks. NULL for one acknowledged or resolved before this was kept.
ALTER TABLE challenges ADD COLUMN acknowledged_by text, ADD COLUMN resolved_by text;
