-- Each mesh's root CA. The private key is encrypted with the key in --secrets-key-file
-- (XChaCha20-Poly1305; nonce and ciphertext, base64) and never leaves global.

CREATE TABLE mesh_cas (
    mesh          TEXT   NOT NULL,
    certificate   TEXT   NOT NULL,  -- PEM
    encrypted_key TEXT   NOT NULL,
    fingerprint   TEXT   NOT NULL,  -- SHA-256 of the certificate
    created_at    BIGINT NOT NULL,
    CONSTRAINT mesh_cas_pkey PRIMARY KEY (mesh)
);
