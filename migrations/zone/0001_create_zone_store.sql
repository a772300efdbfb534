-- Zone store: what the zone received from global, and the dataplanes it registered itself.
-- It lets a zone restart and keep serving its proxies while global is unreachable.

CREATE TABLE zone_meta (
    key   TEXT NOT NULL,
    value TEXT NOT NULL,
    CONSTRAINT zone_meta_pkey PRIMARY KEY (key)
);

-- Resources received from global (meshes, policies, other zones' dataplanes), at global revisions.
CREATE TABLE global_resources (
    kind     TEXT    NOT NULL,
    mesh     TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    zone     TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    manifest TEXT    NOT NULL,  -- JSON manifest
    CONSTRAINT global_resources_pkey PRIMARY KEY (kind, mesh, name)
);

-- Dataplanes registered in this zone, at zone revisions; tombstones let global resume.
CREATE TABLE local_dataplanes (
    mesh     TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    revision INTEGER NOT NULL,
    deleted  INTEGER NOT NULL,  -- 1 for tombstones
    manifest TEXT    NOT NULL,  -- JSON manifest; '' for tombstones
    CONSTRAINT local_dataplanes_pkey PRIMARY KEY (mesh, name),
    CONSTRAINT local_dataplanes_deleted_flag CHECK (deleted IN (0, 1))
);
CREATE UNIQUE INDEX local_dataplanes_revision_key ON local_dataplanes (revision);
