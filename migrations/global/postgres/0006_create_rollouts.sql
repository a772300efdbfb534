-- The rollout controller: where each rollout stands, every decision it or a user made, and the
-- lease that lets one global replica act at a time.

-- One row per Rollout resource. The state (JSON) changes only by compare-and-swap on
-- version, so two writers can never both move a rollout.
CREATE TABLE rollout_states (
    mesh       TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    state      TEXT   NOT NULL,  -- JSON: phase, step, weight, failed checks, pause, reason
    version    BIGINT NOT NULL,  -- bumped on every change
    updated_at BIGINT NOT NULL,  -- unix milliseconds
    CONSTRAINT rollout_states_pkey PRIMARY KEY (mesh, name)
);

-- The decision history: every check with its measured values and gates, every weight and
-- phase change, and who or what made it. Written in the transaction that changes the state.
CREATE TABLE rollout_history (
    id         BIGSERIAL NOT NULL,
    mesh       TEXT   NOT NULL,
    name       TEXT   NOT NULL,
    generation BIGINT NOT NULL,  -- the Rollout's resourceVersion the decision belongs to
    at         BIGINT NOT NULL,  -- unix milliseconds
    decision   TEXT   NOT NULL,  -- JSON
    CONSTRAINT rollout_history_pkey PRIMARY KEY (id)
);
CREATE INDEX rollout_history_rollout_idx ON rollout_history (mesh, name, id);

-- Leases: at most one holder of each name until expires_at (controllers elect a leader).
CREATE TABLE leases (
    name       TEXT   NOT NULL,
    holder     TEXT   NOT NULL,
    expires_at BIGINT NOT NULL,  -- unix milliseconds
    CONSTRAINT leases_pkey PRIMARY KEY (name)
);
