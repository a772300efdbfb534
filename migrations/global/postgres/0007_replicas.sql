-- Several weft-global replicas on one store: each replica's heartbeat, which replica holds each
-- zone's stream, the leader lease's fencing term, what zones reported to the replica holding
-- their stream (shared so every replica serves it), telemetry seconds shared between replicas,
-- and the compaction point of the change feed (store_meta key 'compacted_revision').

CREATE TABLE replicas (
    id           TEXT   NOT NULL,
    started_at   BIGINT NOT NULL,  -- unix milliseconds
    heartbeat_at BIGINT NOT NULL,
    CONSTRAINT replicas_pkey PRIMARY KEY (id)
);

ALTER TABLE zones ADD COLUMN replica TEXT NOT NULL DEFAULT '';

-- Grows by one each time the lease changes hands; a leader's writes name the term they hold.
ALTER TABLE leases ADD COLUMN term BIGINT NOT NULL DEFAULT 0;

-- The latest full picture of one kind of report (health, sessions, CA progress) of one zone.
CREATE TABLE zone_reports (
    zone       TEXT   NOT NULL,
    kind       TEXT   NOT NULL,
    replica    TEXT   NOT NULL,
    version    BIGINT NOT NULL,
    payload    TEXT   NOT NULL,  -- JSON
    CONSTRAINT zone_reports_pkey PRIMARY KEY (zone, kind)
);

-- One replica's telemetry of one mesh for one second, written once the second is over.
CREATE TABLE traffic_seconds (
    replica    TEXT   NOT NULL,
    mesh       TEXT   NOT NULL,
    second     BIGINT NOT NULL,  -- unix seconds
    edges      TEXT   NOT NULL,  -- JSON
    CONSTRAINT traffic_seconds_pkey PRIMARY KEY (replica, mesh, second)
);
CREATE INDEX traffic_seconds_second_idx ON traffic_seconds (second);
