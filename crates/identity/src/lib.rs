//! Identity shared by Weft's parts. Certificates ([`ca`]): each mesh has a root CA in global,
//! each zone an intermediate per mesh signed from its own CSR, each proxy a leaf per service
//! with exactly one URI SAN `spiffe://<mesh>/<service>`. Tokens: global signs them (Ed25519 JWTs with a `kid`);
//! global verifies zone tokens, zones verify dataplane tokens offline with global's public
//! keys and revocation list, which arrive over the sync stream.

pub mod ca;
pub mod serving;
pub mod tokens;

pub use tokens::{
    DATAPLANE_AUDIENCE, DataplaneClaims, ISSUER, TokenError, TrustedKey, Verifier, ZONE_AUDIENCE,
    ZoneClaims,
};
