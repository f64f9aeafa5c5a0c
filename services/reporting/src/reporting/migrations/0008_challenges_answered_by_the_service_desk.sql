-- Whether the LRS service desk (an operator, for the AO) acknowledged or resolved the challenge, read from its event's
-- `causation_id` (`operator:…`): MI tells the desk's answers apart from the AO's own (decision 0194). NULL when not
-- known: a challenge acknowledged or resolved before this was kept counts as the AO's, as it did before; the rows hold
-- no principal to fill them from. A store rebuilt from the topics (docs/operations.md, "Rebuilding reporting's store")
-- reads every challenge's events again and knows them all.
ALTER TABLE challenges ADD COLUMN acknowledged_by_desk boolean, ADD COLUMN resolved_by_desk boolean;
