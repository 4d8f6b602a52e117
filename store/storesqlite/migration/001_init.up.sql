-- 001_init: every table of store/store.go. Times are INTEGER microseconds
-- since the Unix epoch, UTC. JSON documents are TEXT.

CREATE TABLE config_version (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
) STRICT;
INSERT INTO config_version (id, version) VALUES (1, 1);

CREATE TABLE tenant (
    id         TEXT PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    name       TEXT NOT NULL,
    settings   TEXT NOT NULL DEFAULT '{}',
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE tenant_domain (
    hostname      TEXT PRIMARY KEY,
    tenant_id     TEXT NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    cookie_domain TEXT NOT NULL,
    verification  TEXT NOT NULL,
    verify_token  TEXT NOT NULL,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE INDEX tenant_domain_tenant_idx ON tenant_domain (tenant_id);

CREATE TABLE tracking_pixel (
    id                  INTEGER PRIMARY KEY,
    uuid                TEXT NOT NULL UNIQUE,
    tenant_id           TEXT NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    platform            TEXT NOT NULL,
    pixel_id            TEXT NOT NULL,
    credentials_key_id  TEXT NOT NULL DEFAULT '',
    credentials         BLOB,
    credential_hints    TEXT NOT NULL DEFAULT '{}',
    extras              TEXT NOT NULL DEFAULT '{}',
    event_map           TEXT NOT NULL DEFAULT '{}',
    is_active           INTEGER NOT NULL,
    server_side_enabled INTEGER NOT NULL,
    client_side_enabled INTEGER NOT NULL,
    test_event_code     TEXT NOT NULL DEFAULT '',
    domains             TEXT NOT NULL DEFAULT '[]',
    status              TEXT NOT NULL DEFAULT '',
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    UNIQUE (tenant_id, platform, pixel_id)
) STRICT;
CREATE INDEX tracking_pixel_active_idx ON tracking_pixel (is_active);

CREATE TABLE cookie_key (
    tenant_id     TEXT NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    key_id        TEXT NOT NULL,
    secret_key_id TEXT NOT NULL DEFAULT '',
    secret        BLOB,
    active        INTEGER NOT NULL,
    created_at    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
) STRICT;

CREATE TABLE api_key (
    id         TEXT PRIMARY KEY,
    tenant_id  TEXT NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    name       TEXT NOT NULL,
    prefix     TEXT NOT NULL UNIQUE,
    hash       BLOB NOT NULL,
    scopes     TEXT NOT NULL DEFAULT '[]',
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
) STRICT;
CREATE INDEX api_key_tenant_idx ON api_key (tenant_id);

-- The audit is append-only and has no foreign keys: a batch for a tenant
-- deleted a moment ago must not fail; DeleteTenant removes its rows.
CREATE TABLE tracking_event (
    seq               INTEGER PRIMARY KEY,
    tenant_id         TEXT NOT NULL,
    event_id          TEXT NOT NULL,
    event_name        TEXT NOT NULL,
    event_source      TEXT NOT NULL,
    visitor_id        TEXT NOT NULL DEFAULT '',
    user_data_key_id  TEXT NOT NULL DEFAULT '',
    user_data         BLOB,
    custom_data       TEXT,
    event_source_url  TEXT NOT NULL DEFAULT '',
    client_ip         TEXT NOT NULL DEFAULT '',
    client_user_agent TEXT NOT NULL DEFAULT '',
    fbc               TEXT NOT NULL DEFAULT '',
    fbp               TEXT NOT NULL DEFAULT '',
    gclid             TEXT NOT NULL DEFAULT '',
    created_at        INTEGER NOT NULL
) STRICT;
CREATE INDEX tracking_event_tenant_created_idx ON tracking_event (tenant_id, created_at);
CREATE INDEX tracking_event_created_idx ON tracking_event (created_at);
CREATE INDEX tracking_event_visitor_idx ON tracking_event (tenant_id, visitor_id) WHERE visitor_id <> '';

CREATE TABLE delivery_outcome (
    seq         INTEGER PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    event_id    TEXT NOT NULL,
    pixel_uuid  TEXT NOT NULL,
    platform    TEXT NOT NULL,
    status      TEXT NOT NULL,
    attempts    INTEGER NOT NULL,
    response_id TEXT NOT NULL DEFAULT '',
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX delivery_outcome_event_idx ON delivery_outcome (tenant_id, event_id);

CREATE TABLE platform_response (
    id          TEXT PRIMARY KEY,
    tenant_id   TEXT NOT NULL,
    pixel_uuid  TEXT NOT NULL,
    platform    TEXT NOT NULL,
    http_status INTEGER NOT NULL,
    body        BLOB,
    created_at  INTEGER NOT NULL
) STRICT;
CREATE INDEX platform_response_tenant_idx ON platform_response (tenant_id, created_at);

-- Consent decisions are never updated; the IP lives apart so the purge never
-- rewrites a decision.
CREATE TABLE consent_record (
    seq            INTEGER PRIMARY KEY,
    id             TEXT NOT NULL UNIQUE,
    tenant_id      TEXT NOT NULL,
    visitor_id     TEXT NOT NULL,
    analytics      INTEGER NOT NULL,
    marketing      INTEGER NOT NULL,
    functional     INTEGER NOT NULL,
    policy_version TEXT NOT NULL DEFAULT '',
    source         TEXT NOT NULL,
    created_at     INTEGER NOT NULL
) STRICT;
CREATE INDEX consent_record_visitor_idx ON consent_record (tenant_id, visitor_id, created_at);

CREATE TABLE consent_ip (
    record_id  TEXT PRIMARY KEY REFERENCES consent_record (id) ON DELETE CASCADE,
    ip         TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX consent_ip_created_idx ON consent_ip (created_at);
