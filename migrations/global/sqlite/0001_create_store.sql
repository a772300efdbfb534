-- Global store: every resource (meshes, policies, zone-registered dataplanes) in one table,
-- versioned by one store-wide revision so zones can resume after any revision.
-- Flags are BIGINT 0/1 so one set of queries runs unchanged on SQLite and Postgres.

CREATE TABLE store_meta (
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT store_meta_pkey PRIMARY KEY (key)
);

CREATE TABLE revision_counter (
    id    INTEGER NOT NULL,
    value BIGINT  NOT NULL,
    CONSTRAINT revision_counter_pkey PRIMARY KEY (id),
    CONSTRAINT revision_counter_single_row CHECK (id = 1)
);
INSERT INTO revision_counter (id, value) VALUES (1, 0);

CREATE TABLE resources (
    kind       TEXT    NOT NULL,
    mesh       TEXT    NOT NULL,  -- '' for global-scoped kinds
    name       TEXT    NOT NULL,
    zone       TEXT    NOT NULL,  -- registering zone; '' when written through the API
    revision   BIGINT  NOT NULL,
    deleted    BIGINT  NOT NULL,  -- 1 for tombstones, which let zones resume after a deletion
    labels     TEXT    NOT NULL,  -- JSON object
    spec       TEXT    NOT NULL,  -- JSON object
    created_at BIGINT  NOT NULL,  -- unix milliseconds
    updated_at BIGINT  NOT NULL,
    CONSTRAINT resources_pkey PRIMARY KEY (kind, mesh, name),
    CONSTRAINT resources_revision_positive CHECK (revision > 0),
    CONSTRAINT resources_deleted_flag CHECK (deleted IN (0, 1))
);
CREATE UNIQUE INDEX resources_revision_key ON resources (revision);
CREATE INDEX resources_mesh_kind_idx ON resources (mesh, kind) WHERE deleted = 0;

CREATE TABLE zones (
    name          TEXT    NOT NULL,
    version       TEXT    NOT NULL,
    zone_store_id TEXT    NOT NULL,  -- identity of the zone's own store
    zone_revision BIGINT  NOT NULL,  -- last zone revision applied here
    online        BIGINT  NOT NULL,  -- 1 while a sync stream is open
    last_seen     BIGINT  NOT NULL,
    created_at    BIGINT  NOT NULL,
    CONSTRAINT zones_pkey PRIMARY KEY (name),
    CONSTRAINT zones_online_flag CHECK (online IN (0, 1))
);

CREATE TABLE users (
    username       TEXT    NOT NULL,
    password_hash  TEXT    NOT NULL,  -- argon2id PHC string
    platform_admin BIGINT  NOT NULL,  -- 1 for platform admins
    created_at     BIGINT  NOT NULL,
    CONSTRAINT users_pkey PRIMARY KEY (username),
    CONSTRAINT users_platform_admin_flag CHECK (platform_admin IN (0, 1))
);

CREATE TABLE signing_keys (
    kid             TEXT   NOT NULL,
    private_key_pem TEXT   NOT NULL,
    public_key_pem  TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    CONSTRAINT signing_keys_pkey PRIMARY KEY (kid)
);
