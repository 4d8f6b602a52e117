DROP INDEX IF EXISTS delivery_outcome_merged_idx;
