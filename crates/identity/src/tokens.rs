//! Zone and dataplane tokens: what they claim and how they are checked.

use std::collections::{BTreeMap, HashMap, HashSet};

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::{Deserialize, Serialize};

pub const ISSUER: &str = "weft-global";
/// Audience of zone tokens (presented by `weft-zone` to global).
pub const ZONE_AUDIENCE: &str = "weft-zone";
/// Audience of dataplane tokens (presented by `weft-dp` to its zone).
pub const DATAPLANE_AUDIENCE: &str = "weft-dataplane";

/// A zone token: the bearer may run zone `sub`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ZoneClaims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    /// Token id, for revocation.
    pub jti: String,
}

/// A dataplane token: the bearer may register proxies of `service` in `mesh`, whose inbounds
/// carry every tag in `tags`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataplaneClaims {
    /// The service.
    pub sub: String,
    pub mesh: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    pub jti: String,
}

/// A public key of global's, as it travels to zones.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustedKey {
    pub kid: String,
    pub public_key_pem: String,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no token was presented")]
    Missing,
    #[error("the token is malformed, expired, or not signed by a known key")]
    Invalid,
    #[error("the token was revoked")]
    Revoked,
    #[error("the token is for {expected}, not {presented}")]
    WrongSubject { expected: String, presented: String },
}

/// Checks tokens against a set of public keys and a revocation list.
#[derive(Default)]
pub struct Verifier {
    keys: HashMap<String, DecodingKey>,
    revoked: HashSet<String>,
}

impl Verifier {
    /// Keys that do not parse are skipped (and named in the error list).
    pub fn new(
        keys: &[TrustedKey],
        revoked: impl IntoIterator<Item = String>,
    ) -> (Verifier, Vec<String>) {
        let mut problems = Vec::new();
        let keys = keys
            .iter()
            .filter_map(
                |key| match DecodingKey::from_ed_pem(key.public_key_pem.as_bytes()) {
                    Ok(decoding) => Some((key.kid.clone(), decoding)),
                    Err(error) => {
                        problems.push(format!("key {}: {error}", key.kid));
                        None
                    }
                },
            )
            .collect();
        (
            Verifier {
                keys,
                revoked: revoked.into_iter().collect(),
            },
            problems,
        )
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    fn decode<C: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        audience: &str,
    ) -> Result<C, TokenError> {
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > 8 * 1024 {
            return Err(TokenError::Invalid);
        }
        let header = jsonwebtoken::decode_header(token).map_err(|_| TokenError::Invalid)?;
        if header.alg != Algorithm::EdDSA {
            return Err(TokenError::Invalid);
        }
        let key = header
            .kid
            .and_then(|kid| self.keys.get(&kid))
            .ok_or(TokenError::Invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        jsonwebtoken::decode::<C>(token, key, &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }

    /// A zone token valid for `zone`.
    pub fn zone(&self, token: &str, zone: &str) -> Result<ZoneClaims, TokenError> {
        let claims: ZoneClaims = self.decode(token, ZONE_AUDIENCE)?;
        if self.revoked.contains(&claims.jti) {
            return Err(TokenError::Revoked);
        }
        if claims.sub != zone {
            return Err(TokenError::WrongSubject {
                expected: format!("zone {}", claims.sub),
                presented: format!("zone {zone}"),
            });
        }
        Ok(claims)
    }

    /// A valid, unrevoked dataplane token.
    pub fn dataplane(&self, token: &str) -> Result<DataplaneClaims, TokenError> {
        let claims: DataplaneClaims = self.decode(token, DATAPLANE_AUDIENCE)?;
        if self.revoked.contains(&claims.jti) {
            return Err(TokenError::Revoked);
        }
        Ok(claims)
    }
}

/// Reads a token file: its content without surrounding whitespace.
pub fn read_token_file(path: &std::path::Path) -> std::io::Result<String> {
    Ok(std::fs::read_to_string(path)?.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;
    use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
    use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
    use jsonwebtoken::{EncodingKey, Header};

    fn key() -> (EncodingKey, TrustedKey) {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let private = signing.to_pkcs8_pem(LineEnding::LF).unwrap();
        let public = signing
            .verifying_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        (
            EncodingKey::from_ed_pem(private.as_bytes()).unwrap(),
            TrustedKey {
                kid: "k1".into(),
                public_key_pem: public,
            },
        )
    }

    fn sign<C: Serialize>(encoding: &EncodingKey, claims: &C) -> String {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some("k1".into());
        jsonwebtoken::encode(&header, claims, encoding).unwrap()
    }

    fn zone_claims(zone: &str, jti: &str, aud: &str) -> ZoneClaims {
        let now = jsonwebtoken::get_current_timestamp();
        ZoneClaims {
            sub: zone.into(),
            iss: ISSUER.into(),
            aud: aud.into(),
            exp: now + 60,
            iat: now,
            jti: jti.into(),
        }
    }

    #[test]
    fn zone_tokens_bind_the_zone_and_can_be_revoked() {
        let (encoding, trusted) = key();
        let (verifier, problems) =
            Verifier::new(std::slice::from_ref(&trusted), ["gone".to_string()]);
        assert!(problems.is_empty());
        let east = sign(&encoding, &zone_claims("east", "t1", ZONE_AUDIENCE));
        assert_eq!(verifier.zone(&east, "east").unwrap().sub, "east");
        assert!(matches!(
            verifier.zone(&east, "west"),
            Err(TokenError::WrongSubject { .. })
        ));
        let revoked = sign(&encoding, &zone_claims("east", "gone", ZONE_AUDIENCE));
        assert_eq!(verifier.zone(&revoked, "east"), Err(TokenError::Revoked));
        // A dataplane token is no zone token, and the other way round.
        let wrong_audience = sign(&encoding, &zone_claims("east", "t2", DATAPLANE_AUDIENCE));
        assert_eq!(
            verifier.zone(&wrong_audience, "east"),
            Err(TokenError::Invalid)
        );
        assert_eq!(verifier.dataplane(&east), Err(TokenError::Invalid));
        assert_eq!(verifier.zone("", "east"), Err(TokenError::Missing));
        assert_eq!(
            verifier.zone("not.a.token", "east"),
            Err(TokenError::Invalid)
        );
        // Signed by a key the verifier does not know.
        let (other, _) = key();
        assert_eq!(
            verifier.zone(
                &sign(&other, &zone_claims("east", "t3", ZONE_AUDIENCE)),
                "east"
            ),
            Err(TokenError::Invalid)
        );
    }

    #[test]
    fn expired_tokens_are_refused() {
        let (encoding, trusted) = key();
        let (verifier, _) = Verifier::new(&[trusted], []);
        let mut claims = zone_claims("east", "t1", ZONE_AUDIENCE);
        claims.exp = 1_000;
        assert_eq!(
            verifier.zone(&sign(&encoding, &claims), "east"),
            Err(TokenError::Invalid)
        );
    }
}
