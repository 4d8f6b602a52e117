-- Reverts 001_init. Dropping a partitioned table drops its partitions.
DROP TABLE IF EXISTS consent_ip;
DROP TABLE IF EXISTS consent_record;
DROP FUNCTION IF EXISTS consent_record_append_only();
DROP TABLE IF EXISTS platform_response;
DROP TABLE IF EXISTS delivery_outcome;
DROP SEQUENCE IF EXISTS delivery_outcome_seq;
DROP TABLE IF EXISTS tracking_event;
DROP SEQUENCE IF EXISTS tracking_event_seq;
DROP TABLE IF EXISTS api_key;
DROP TABLE IF EXISTS cookie_key;
DROP TABLE IF EXISTS tracking_pixel;
DROP TABLE IF EXISTS tenant_domain;
DROP TABLE IF EXISTS tenant;
DROP FUNCTION IF EXISTS bump_config_version();
DROP TABLE IF EXISTS config_version;
