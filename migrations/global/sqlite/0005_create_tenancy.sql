-- Users' tokens, API tokens for automation, revoked sessions, and the audit log.

-- Every token of a user names the user's token generation when it was issued; changing or
-- resetting the password bumps it, so every earlier token stops working at once.
ALTER TABLE users ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;

-- API tokens: bound to a user, optionally narrowed to one tenant and a role no higher than the
-- user's. The secret (a JWT whose jti is the id) is shown once and never stored.
CREATE TABLE api_tokens (
    id         TEXT   NOT NULL,
    username   TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    tenant     TEXT   NOT NULL,  -- '' when not narrowed to a tenant
    role       TEXT   NOT NULL,  -- '' when not narrowed to a role
    created_at BIGINT NOT NULL,  -- unix milliseconds
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,           -- NULL while valid
    CONSTRAINT api_tokens_pkey PRIMARY KEY (id),
    CONSTRAINT api_tokens_role_known CHECK (role IN ('', 'owner', 'editor', 'viewer'))
);
CREATE INDEX api_tokens_username_idx ON api_tokens (username);

-- Ids of login tokens that were revoked (logout) before they expired.
CREATE TABLE revoked_tokens (
    jti        TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,  -- unix milliseconds; the row can go after this
    CONSTRAINT revoked_tokens_pkey PRIMARY KEY (jti)
);

-- Every write through the API: who, what, when, from where, and the resourceVersion before and
-- after. Written in the same transaction as the write it records.
CREATE TABLE audit_log (
    id          INTEGER NOT NULL,  -- rowid: assigned in order
    at             BIGINT NOT NULL,  -- unix milliseconds
    actor          TEXT   NOT NULL,  -- user name
    token          TEXT   NOT NULL,  -- id of the token the request carried
    address        TEXT   NOT NULL,  -- client address
    action         TEXT   NOT NULL,  -- create, update, delete, issue, revoke, rotate, …
    tenant         TEXT   NOT NULL,  -- '' when the write is not inside a tenant
    mesh           TEXT   NOT NULL,  -- '' when the write is not inside a mesh
    kind           TEXT   NOT NULL,  -- resource kind, or User, Member, ApiToken, ZoneToken, …
    name           TEXT   NOT NULL,
    before_version BIGINT,           -- NULL when there was nothing before
    after_version  BIGINT,           -- NULL when nothing is left after
    CONSTRAINT audit_log_pkey PRIMARY KEY (id)
);
CREATE INDEX audit_log_at_idx ON audit_log (at);
CREATE INDEX audit_log_tenant_idx ON audit_log (tenant, id);
