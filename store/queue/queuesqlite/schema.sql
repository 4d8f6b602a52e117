-- The embedded queue's own database (queuesqlite). Applied by Open; every
-- statement is idempotent. Times are unix milliseconds.
CREATE TABLE IF NOT EXISTS dedup (
    key        BLOB PRIMARY KEY,     -- first 16 bytes of SHA-256(tenant \0 name \0 event_id)
    tenant_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL
) WITHOUT ROWID;
-- Purges go tenant by tenant (dedup_count lists the tenants).
CREATE INDEX IF NOT EXISTS dedup_expiry ON dedup (tenant_id, expires_at);

-- Live dedup keys per tenant, for the cap (kept in step with dedup).
CREATE TABLE IF NOT EXISTS dedup_count (
    tenant_id TEXT PRIMARY KEY,
    live      INTEGER NOT NULL
) WITHOUT ROWID;

-- The revocation set: a visitor's last server-side decision.
CREATE TABLE IF NOT EXISTS revocation (
    tenant_id  TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    decided_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, visitor_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS revocation_expiry ON revocation (expires_at);

-- Erasure markers: when a visitor was last erased (EraseVisitor), for the
-- consumers to drop what they read before it (ErasedAt).
CREATE TABLE IF NOT EXISTS erasure (
    tenant_id  TEXT NOT NULL,
    visitor_id TEXT NOT NULL,
    erased_at  INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, visitor_id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS erasure_expiry ON erasure (expires_at);

-- The queue. AUTOINCREMENT: ids are never reused, even after trimming.
CREATE TABLE IF NOT EXISTS entry (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    kind       INTEGER NOT NULL,
    tenant_id  TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    event_name TEXT NOT NULL,
    payload    BLOB NOT NULL,
    target_group TEXT NOT NULL DEFAULT '', -- '' every group; else only that group (a replayed dead letter)
    visitor_id TEXT NOT NULL DEFAULT ''    -- Entry.VisitorID, for EraseVisitor
);

-- Consumer groups: last_id is the last entry delivered to the group.
CREATE TABLE IF NOT EXISTS consumer_group (
    name    TEXT PRIMARY KEY,
    last_id INTEGER NOT NULL
) WITHOUT ROWID;

-- Delivered, not yet acknowledged.
CREATE TABLE IF NOT EXISTS pending (
    group_name   TEXT NOT NULL,
    entry_id     INTEGER NOT NULL,
    consumer     TEXT NOT NULL,
    delivered_at INTEGER NOT NULL,
    PRIMARY KEY (group_name, entry_id)
) WITHOUT ROWID;

-- Dead letters: messages a consumer group gave up on, per tenant, newest
-- by id. (Files created before dead letters existed get entry.target_group
-- from Open; files created before erasure get the visitor_id columns.)
CREATE TABLE IF NOT EXISTS dead_letter (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT NOT NULL,
    group_name TEXT NOT NULL,
    kind       INTEGER NOT NULL,
    event_id   TEXT NOT NULL,
    event_name TEXT NOT NULL,
    payload    BLOB NOT NULL,
    reason     TEXT NOT NULL,
    at         INTEGER NOT NULL,
    visitor_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS dead_letter_tenant ON dead_letter (tenant_id, id);

-- Per tenant: letters kept (for the cap) and letters the cap dropped.
CREATE TABLE IF NOT EXISTS dead_letter_count (
    tenant_id TEXT PRIMARY KEY,
    live      INTEGER NOT NULL,
    dropped   INTEGER NOT NULL
) WITHOUT ROWID;
