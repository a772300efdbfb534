//! Identity shared by Weft's parts. Tokens: global signs them (Ed25519 JWTs with a `kid`);
//! global verifies zone tokens, zones verify dataplane tokens offline with global's public
//! keys and revocation list, which arrive over the sync stream.

pub mod tokens;

pub use tokens::{
    DATAPLANE_AUDIENCE, DataplaneClaims, ISSUER, TokenError, TrustedKey, Verifier, ZONE_AUDIENCE,
    ZoneClaims,
};
