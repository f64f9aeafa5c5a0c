-- A provider's centre report keeps no free text once its learner is erased: `subject` and `provider_name` are
-- what the provider wrote, which may name the learner (the grade, a result, stays). The reports of learners
-- erased before this migration lose it here; later ones as the erasure or the report is projected
-- (`ReadModel.erase_centre_text`, `CentreRow.without_free_text`). The log keeps the report as it was written.
UPDATE centre_achievements SET provider_name = NULL, subject = NULL
WHERE uln IN (SELECT uln FROM erased_learners) AND (provider_name IS NOT NULL OR subject IS NOT NULL);
