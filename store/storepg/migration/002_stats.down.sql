-- Reverts 002_stats.
DROP TABLE IF EXISTS stats_consent_hourly;
DROP TABLE IF EXISTS stats_merge_seen;
DROP TABLE IF EXISTS stats_merge_hourly;
DROP TABLE IF EXISTS stats_delivery_hourly;
DROP TABLE IF EXISTS stats_event_hourly;
