-- A mesh may hold two roots while its CA rotates: every root, with its key encrypted as in
-- mesh_cas, and per mesh the rotation state (which roots are trusted, which one signs).

CREATE TABLE mesh_ca_roots (
    mesh          TEXT   NOT NULL,
    id            BIGINT NOT NULL,  -- 1, 2, … per mesh
    certificate   TEXT   NOT NULL,  -- PEM
    encrypted_key TEXT   NOT NULL,
    fingerprint   TEXT   NOT NULL,  -- SHA-256 of the certificate
    source        TEXT   NOT NULL,  -- builtin or provided
    created_at    BIGINT NOT NULL,
    CONSTRAINT mesh_ca_roots_pkey PRIMARY KEY (mesh, id)
);

CREATE TABLE mesh_ca_state (
    mesh       TEXT   NOT NULL,
    phase      TEXT   NOT NULL,  -- ready, trusting, reissuing, retiring
    signer     BIGINT NOT NULL,  -- the root that signs zone intermediates
    trusted    TEXT   NOT NULL,  -- root ids, comma separated, oldest first
    generation BIGINT NOT NULL,  -- bumped whenever the trusted roots or the signer change
    changed_at BIGINT NOT NULL,
    CONSTRAINT mesh_ca_state_pkey PRIMARY KEY (mesh)
);

INSERT INTO mesh_ca_roots (mesh, id, certificate, encrypted_key, fingerprint, source, created_at)
    SELECT mesh, 1, certificate, encrypted_key, fingerprint, 'builtin', created_at FROM mesh_cas;
INSERT INTO mesh_ca_state (mesh, phase, signer, trusted, generation, changed_at)
    SELECT mesh, 'ready', 1, '1', 1, created_at FROM mesh_cas;
DROP TABLE mesh_cas;
