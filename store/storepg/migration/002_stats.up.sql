-- 002_stats: hourly rollups for GET /api/v1/tracking/events/stats (same
-- number as storesqlite's 002). Written in the same transaction as the audit
-- and consent writes they count, one upsert per batch (see store/stats.go);
-- read instead of scanning tracking_event. Not partitioned: one row per
-- tenant and hour (per pixel for deliveries) is small, and the hourly
-- maintenance deletes rows older than 8 days (PurgeStats).

-- Accepted events by source, per tenant and UTC hour of created_at.
CREATE TABLE stats_event_hourly (
    tenant_id uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    hour      timestamptz NOT NULL,
    client    bigint      NOT NULL DEFAULT 0,
    server    bigint      NOT NULL DEFAULT 0,
    src_both  bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour)
);
CREATE INDEX stats_event_hourly_hour_idx ON stats_event_hourly (hour);

-- Finished deliveries per pixel ('' for pixel-less failures) and hour.
CREATE TABLE stats_delivery_hourly (
    tenant_id  uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    pixel_uuid text        NOT NULL,
    hour       timestamptz NOT NULL,
    delivered  bigint      NOT NULL DEFAULT 0,
    failed     bigint      NOT NULL DEFAULT 0,
    dead       bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour, pixel_uuid)
);
CREATE INDEX stats_delivery_hourly_hour_idx ON stats_delivery_hourly (hour);

-- Distinct deduplicated events (seen twice) per hour the store learnt of
-- them; stats_merge_seen is the ledger that makes them distinct.
CREATE TABLE stats_merge_hourly (
    tenant_id uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    hour      timestamptz NOT NULL,
    merged    bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour)
);
CREATE INDEX stats_merge_hourly_hour_idx ON stats_merge_hourly (hour);

CREATE TABLE stats_merge_seen (
    tenant_id uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    event_id  text        NOT NULL,
    hour      timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
);
CREATE INDEX stats_merge_seen_hour_idx ON stats_merge_seen (hour);

-- Distinct visitors by the hour of their latest consent decision.
CREATE TABLE stats_consent_hourly (
    tenant_id uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    hour      timestamptz NOT NULL,
    decided   bigint      NOT NULL DEFAULT 0,
    marketing bigint      NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour)
);
CREATE INDEX stats_consent_hourly_hour_idx ON stats_consent_hourly (hour);

-- Backfill consent (a later decision subtracts the visitor's earlier one,
-- which must therefore be counted): each visitor's latest decision of the
-- last 25 hours. Events and deliveries start from zero.
INSERT INTO stats_consent_hourly (tenant_id, hour, decided, marketing)
SELECT tenant_id, date_trunc('hour', created_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC',
       count(*), count(*) FILTER (WHERE marketing)
FROM (
    SELECT DISTINCT ON (tenant_id, visitor_id) tenant_id, created_at, marketing
    FROM consent_record
    WHERE created_at >= now() - interval '25 hours'
    ORDER BY tenant_id, visitor_id, created_at DESC, seq DESC
) latest
GROUP BY 1, 2;
