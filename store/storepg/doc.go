// Package storepg is the PostgreSQL driver of package store, built on pgx v5
// (pgxpool). It is the store of the scaled deployment mode; storesqlite is
// the embedded one, and both pass the one conformance suite in
// store/storetest.
//
// # Migrations
//
// migration/NNN_name.{up,down}.sql are embedded in the binary and use the
// same numbers as storesqlite's. Migrate applies the pending ones in a single
// transaction that first takes pg_advisory_xact_lock on a key derived from
// the current schema, so several instances may run Migrate at once: one
// applies, the others wait and then find nothing to do. Applied versions are
// recorded in schema_migrations. CheckSchema refuses (store.ErrSchemaOutdated)
// a database older than the binary; a newer one is accepted so instances can
// be upgraded one by one. MigrateDown runs the down files (tests, rollback).
//
// # The audit
//
// tracking_event, delivery_outcome and platform_response are append-only.
// AppendEvents, AppendOutcomes and AppendResponses write a whole batch with
// one COPY (pgx.CopyFrom); nothing on the hot path runs one statement or one
// UPDATE per event. The only UPDATE of tracking_event is PurgeClientIPs (a
// daily job that nulls client_ip on rows older than 30 days) and ResealAll
// (key rotation).
//
// The three audit tables are range-partitioned by created_at. Migration 001
// creates only a DEFAULT partition per table, so an insert never fails for
// want of a partition. EnsurePartitions(from, to) creates one partition per
// UTC day (tracking_event_p20260131, ...); if the DEFAULT partition already
// holds rows of that day, they are moved into the new partition in the same
// transaction before it is attached. Run it at start-up and daily for a few
// days ahead (for example from yesterday to today+7). DropPartitionsBefore
// drops whole daily partitions that end at or before a cut-off and deletes
// older rows left in the DEFAULT partitions: retention is a DROP TABLE, not a
// DELETE of millions of rows.
//
// # Stats rollups
//
// AppendEvents and AppendOutcomes run their COPY and the stats rollup upserts
// (migration 002, stats.go) in one transaction: the batch is aggregated in
// Go and each rollup table gets one INSERT ... SELECT FROM unnest(...) ON
// CONFLICT DO UPDATE SET n = t.n + excluded.n, keys sorted so concurrent
// batches lock rows in one order. AppendConsent takes a per-visitor
// advisory lock, reads the visitor's previous decision and moves them to
// the hour of the new one. TenantStats reads only the rollups and the
// tenant's pixels (one round trip); the rollups are not partitioned (a row
// per tenant and hour) and PurgeStats deletes rows older than 8 days.
//
// # Identifiers and errors
//
// Ids are uuid columns. A string that is not a UUID can name no row, so it
// yields store.ErrNotFound (never a PostgreSQL 22P02 error). Unique
// violations (23505) map to store.ErrConflict and foreign-key violations
// (23503, a tenant that does not exist) to store.ErrNotFound.
//
// config_version is bumped by statement triggers on tenant, tenant_domain,
// tracking_pixel and cookie_key, in the same transaction as the write.
package storepg
