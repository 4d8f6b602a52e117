-- 004: ReconcileDedup re-checks the recent merged outcomes whose event is
-- not in the dedup ledger yet (see the PostgreSQL migration of the same
-- number).
CREATE INDEX delivery_outcome_merged_idx ON delivery_outcome (created_at) WHERE status = 'merged';
