-- Every read of achievements (the PLR views, the projection's snapshot) goes by the primary key,
-- ULN first: no query reads them by AO first or by achievement id, and each of these indexes cost
-- every achievement written one more index entry (decision 0086).
DROP INDEX IF EXISTS achievements_by_ao;
DROP INDEX IF EXISTS achievements_by_id;
