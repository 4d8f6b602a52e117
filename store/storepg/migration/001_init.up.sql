-- 001_init: the whole pixelgw schema (same number as storesqlite's 001).
--
-- Every table owned by a tenant references tenant(id) ON DELETE CASCADE, so
-- deleting a tenant erases everything it owns (right to erasure).

-- config_version is one row bumped by a statement trigger on every write to
-- tenant, tenant_domain, tracking_pixel and cookie_key; the bump commits with
-- the write, so an edge that sees the new version also sees the new data.
CREATE TABLE config_version (
    id      boolean PRIMARY KEY DEFAULT true CHECK (id),
    version bigint  NOT NULL
);
INSERT INTO config_version (id, version) VALUES (true, 1);

CREATE FUNCTION bump_config_version() RETURNS trigger
LANGUAGE plpgsql
SET search_path FROM CURRENT
AS $$
BEGIN
    UPDATE config_version SET version = version + 1;
    RETURN NULL;
END
$$;

CREATE TABLE tenant (
    id         uuid        PRIMARY KEY,
    slug       text        NOT NULL UNIQUE,
    name       text        NOT NULL,
    settings   jsonb       NOT NULL DEFAULT '{}',
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

CREATE TABLE tenant_domain (
    hostname      text        PRIMARY KEY,
    tenant_id     uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    cookie_domain text        NOT NULL DEFAULT '',
    verification  text        NOT NULL DEFAULT 'pending' CHECK (verification IN ('pending', 'verified')),
    verify_token  text        NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL
);
CREATE INDEX tenant_domain_tenant_idx ON tenant_domain (tenant_id);

CREATE TABLE tracking_pixel (
    id                  bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    uuid                uuid        NOT NULL UNIQUE,
    tenant_id           uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    platform            text        NOT NULL CHECK (platform IN ('meta', 'google', 'linkedin', 'tiktok', 'twitter')),
    pixel_id            text        NOT NULL,
    credentials_key_id  text        NOT NULL DEFAULT '',
    credentials         bytea,
    credential_hints    jsonb,
    extras              jsonb,
    event_map           jsonb,
    is_active           boolean     NOT NULL DEFAULT true,
    server_side_enabled boolean     NOT NULL DEFAULT true,
    client_side_enabled boolean     NOT NULL DEFAULT true,
    test_event_code     text        NOT NULL DEFAULT '',
    domains             text[],
    status              text        NOT NULL DEFAULT '',
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    UNIQUE (tenant_id, platform, pixel_id)
);

CREATE TABLE cookie_key (
    tenant_id     uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    key_id        text        NOT NULL,
    secret_key_id text        NOT NULL,
    secret        bytea       NOT NULL,
    active        boolean     NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE api_key (
    id         uuid        PRIMARY KEY,
    tenant_id  uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    prefix     text        NOT NULL UNIQUE,
    hash       bytea       NOT NULL,
    scopes     text[],
    created_at timestamptz NOT NULL,
    revoked_at timestamptz
);
CREATE INDEX api_key_tenant_idx ON api_key (tenant_id);

CREATE TRIGGER tenant_bump_config AFTER INSERT OR UPDATE OR DELETE ON tenant
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER tenant_domain_bump_config AFTER INSERT OR UPDATE OR DELETE ON tenant_domain
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER tracking_pixel_bump_config AFTER INSERT OR UPDATE OR DELETE ON tracking_pixel
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();
CREATE TRIGGER cookie_key_bump_config AFTER INSERT OR UPDATE OR DELETE ON cookie_key
    FOR EACH STATEMENT EXECUTE FUNCTION bump_config_version();

-- The audit: append-only, written with COPY, range-partitioned by created_at
-- into daily partitions (Store.EnsurePartitions) with a DEFAULT partition so
-- an insert never fails for want of a partition. seq orders rows written in
-- the same microsecond (identity columns need PostgreSQL 17 on partitioned
-- tables, hence plain sequences).
CREATE SEQUENCE tracking_event_seq;
CREATE TABLE tracking_event (
    seq               bigint      NOT NULL DEFAULT nextval('tracking_event_seq'),
    tenant_id         uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    event_id          text        NOT NULL,
    event_name        text        NOT NULL,
    event_source      text        NOT NULL,
    visitor_id        text        NOT NULL DEFAULT '',
    user_data_key_id  text        NOT NULL DEFAULT '',
    user_data         bytea,
    custom_data       json,
    event_source_url  text        NOT NULL DEFAULT '',
    client_ip         text,
    client_user_agent text        NOT NULL DEFAULT '',
    fbc               text        NOT NULL DEFAULT '',
    fbp               text        NOT NULL DEFAULT '',
    gclid             text        NOT NULL DEFAULT '',
    created_at        timestamptz NOT NULL
) PARTITION BY RANGE (created_at);
CREATE TABLE tracking_event_default PARTITION OF tracking_event DEFAULT;
CREATE INDEX tracking_event_recent_idx ON tracking_event (tenant_id, created_at DESC, seq DESC);
CREATE INDEX tracking_event_visitor_idx ON tracking_event (tenant_id, visitor_id) WHERE visitor_id <> '';

CREATE SEQUENCE delivery_outcome_seq;
CREATE TABLE delivery_outcome (
    seq         bigint      NOT NULL DEFAULT nextval('delivery_outcome_seq'),
    tenant_id   uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    event_id    text        NOT NULL,
    pixel_uuid  text        NOT NULL DEFAULT '',
    platform    text        NOT NULL,
    status      text        NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    response_id uuid,
    created_at  timestamptz NOT NULL
) PARTITION BY RANGE (created_at);
CREATE TABLE delivery_outcome_default PARTITION OF delivery_outcome DEFAULT;
CREATE INDEX delivery_outcome_event_idx ON delivery_outcome (tenant_id, event_id);

CREATE TABLE platform_response (
    id          uuid        NOT NULL,
    tenant_id   uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    pixel_uuid  text        NOT NULL DEFAULT '',
    platform    text        NOT NULL,
    http_status integer     NOT NULL,
    body        bytea,
    created_at  timestamptz NOT NULL
) PARTITION BY RANGE (created_at);
CREATE TABLE platform_response_default PARTITION OF platform_response DEFAULT;
CREATE INDEX platform_response_tenant_idx ON platform_response (tenant_id, id);

-- The consent log: append-only (a trigger refuses UPDATE); the IP sits in its
-- own table so the 30-day purge deletes there and never rewrites a decision.
CREATE TABLE consent_record (
    seq            bigint      GENERATED ALWAYS AS IDENTITY UNIQUE,
    id             uuid        PRIMARY KEY,
    tenant_id      uuid        NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
    visitor_id     text        NOT NULL,
    analytics      boolean     NOT NULL,
    marketing      boolean     NOT NULL,
    functional     boolean     NOT NULL,
    policy_version text        NOT NULL DEFAULT '',
    source         text        NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX consent_record_visitor_idx ON consent_record (tenant_id, visitor_id, created_at DESC, seq DESC);

CREATE FUNCTION consent_record_append_only() RETURNS trigger
LANGUAGE plpgsql
AS $$
BEGIN
    RAISE EXCEPTION 'consent_record is append-only';
END
$$;
CREATE TRIGGER consent_record_no_update BEFORE UPDATE ON consent_record
    FOR EACH ROW EXECUTE FUNCTION consent_record_append_only();

CREATE TABLE consent_ip (
    record_id  uuid        PRIMARY KEY REFERENCES consent_record (id) ON DELETE CASCADE,
    ip         text        NOT NULL,
    created_at timestamptz NOT NULL
);
CREATE INDEX consent_ip_created_idx ON consent_ip (created_at);
