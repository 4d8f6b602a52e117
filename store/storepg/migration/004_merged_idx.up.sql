-- 004: the dedup count's reconciliation (store.Stats.ReconcileDedup). A
-- batch of outcomes cannot see another instance's uncommitted outcomes, so
-- an event whose browser and server copies finish on two instances at the
-- same moment was never counted as deduplicated. Every instance now
-- re-checks, each minute, the merged outcomes of the last two hours whose
-- event is not in the ledger; merged outcomes are few (second copies of
-- conversions), so a partial index finds them without scanning the audit.
CREATE INDEX delivery_outcome_merged_idx ON delivery_outcome (created_at) WHERE status = 'merged';
