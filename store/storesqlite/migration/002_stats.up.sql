-- 002_stats: hourly rollups for GET /api/v1/tracking/events/stats (same
-- number as storepg's 002). Written in the same transaction as the audit and
-- consent writes they count, one upsert per batch (see store/stats.go); read
-- instead of scanning tracking_event. hour is the UTC hour in microseconds
-- since the epoch. Like the audit, no foreign keys (a batch for a tenant
-- deleted a moment ago must not fail): a trigger removes a deleted tenant's
-- rows.

CREATE TABLE stats_event_hourly (
    tenant_id TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    client    INTEGER NOT NULL DEFAULT 0,
    server    INTEGER NOT NULL DEFAULT 0,
    src_both  INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour)
) STRICT, WITHOUT ROWID;
CREATE INDEX stats_event_hourly_hour_idx ON stats_event_hourly (hour);

CREATE TABLE stats_delivery_hourly (
    tenant_id  TEXT    NOT NULL,
    pixel_uuid TEXT    NOT NULL,
    hour       INTEGER NOT NULL,
    delivered  INTEGER NOT NULL DEFAULT 0,
    failed     INTEGER NOT NULL DEFAULT 0,
    dead       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour, pixel_uuid)
) STRICT, WITHOUT ROWID;
CREATE INDEX stats_delivery_hourly_hour_idx ON stats_delivery_hourly (hour);

CREATE TABLE stats_merge_hourly (
    tenant_id TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    merged    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour)
) STRICT, WITHOUT ROWID;
CREATE INDEX stats_merge_hourly_hour_idx ON stats_merge_hourly (hour);

CREATE TABLE stats_merge_seen (
    tenant_id TEXT    NOT NULL,
    event_id  TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, event_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX stats_merge_seen_hour_idx ON stats_merge_seen (hour);

CREATE TABLE stats_consent_hourly (
    tenant_id TEXT    NOT NULL,
    hour      INTEGER NOT NULL,
    decided   INTEGER NOT NULL DEFAULT 0,
    marketing INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, hour)
) STRICT, WITHOUT ROWID;
CREATE INDEX stats_consent_hourly_hour_idx ON stats_consent_hourly (hour);

CREATE TRIGGER tenant_delete_stats AFTER DELETE ON tenant
BEGIN
    DELETE FROM stats_event_hourly WHERE tenant_id = old.id;
    DELETE FROM stats_delivery_hourly WHERE tenant_id = old.id;
    DELETE FROM stats_merge_hourly WHERE tenant_id = old.id;
    DELETE FROM stats_merge_seen WHERE tenant_id = old.id;
    DELETE FROM stats_consent_hourly WHERE tenant_id = old.id;
END;

-- Backfill consent (a later decision subtracts the visitor's earlier one,
-- which must therefore be counted): each visitor's latest decision of the
-- last 25 hours. Events and deliveries start from zero.
INSERT INTO stats_consent_hourly (tenant_id, hour, decided, marketing)
SELECT tenant_id, created_at - created_at % 3600000000, count(*), sum(marketing)
FROM (
    SELECT tenant_id, created_at, marketing,
           row_number() OVER (PARTITION BY tenant_id, visitor_id ORDER BY created_at DESC, seq DESC) AS rn
    FROM consent_record
    WHERE created_at >= (CAST(strftime('%s', 'now') AS INTEGER) - 25 * 3600) * 1000000
)
WHERE rn = 1
GROUP BY 1, 2;
