-- Tokens issued to zone control planes and to dataplanes (the secrets themselves are never
-- stored): their ids, whom they are for, and whether they were revoked.

CREATE TABLE control_tokens (
    id         TEXT   NOT NULL,
    kind       TEXT   NOT NULL,  -- 'zone' or 'dataplane'
    mesh       TEXT   NOT NULL,  -- '' for zone tokens
    subject    TEXT   NOT NULL,  -- the zone, or the dataplane's service
    tags       TEXT   NOT NULL,  -- JSON object; '{}' for zone tokens
    created_at BIGINT NOT NULL,  -- unix milliseconds
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,           -- NULL while valid
    CONSTRAINT control_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT control_tokens_kind_known CHECK (kind IN ('zone', 'dataplane'))
);
CREATE INDEX control_tokens_subject_idx ON control_tokens (kind, mesh, subject);
