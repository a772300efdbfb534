//! JWTs signed with Ed25519 (EdDSA). Every token names its key (`kid`); all stored keys verify,
//! so keys can rotate without logging anyone out; the newest key signs.

use std::time::Duration;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use super::Caller;
use crate::error::{Error, Result};
use crate::store::{SigningKeyRow, Store, now_millis};

pub const ISSUER: &str = weft_identity::ISSUER;

/// Unix seconds as RFC 3339.
pub fn rfc3339(seconds: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(seconds).unwrap_or(i64::MAX))
        .map(|ts| ts.to_string())
        .unwrap_or_default()
}
pub const AUDIENCE: &str = "weft-api";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    /// Token id, for revocation.
    pub jti: String,
    /// Platform admin.
    #[serde(default)]
    pub adm: bool,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

pub struct Authority {
    keys: Vec<Key>,
    /// The public halves, as zones receive them.
    public: Vec<weft_identity::TrustedKey>,
    ttl: Duration,
}

fn generate_key() -> Result<SigningKeyRow> {
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let private_key_pem = signing
        .to_pkcs8_pem(LineEnding::LF)
        .map_err(|error| Error::Internal(format!("encoding signing key: {error}")))?
        .to_string();
    let public_key_pem = signing
        .verifying_key()
        .to_public_key_pem(LineEnding::LF)
        .map_err(|error| Error::Internal(format!("encoding public key: {error}")))?;
    Ok(SigningKeyRow {
        kid: uuid::Uuid::new_v4().simple().to_string(),
        private_key_pem,
        public_key_pem,
        created_at: now_millis(),
    })
}

impl Authority {
    /// Loads the signing keys from the store, creating the first one when there is none.
    pub async fn load(store: &Store, ttl: Duration) -> Result<Authority> {
        let mut rows = store.signing_keys().await?;
        if rows.is_empty() {
            store.insert_signing_key(&generate_key()?).await?;
            rows = store.signing_keys().await?;
        }
        let public = rows
            .iter()
            .map(|row| weft_identity::TrustedKey {
                kid: row.kid.clone(),
                public_key_pem: row.public_key_pem.clone(),
            })
            .collect();
        let keys = rows
            .into_iter()
            .map(|row| {
                let encoding =
                    EncodingKey::from_ed_pem(row.private_key_pem.as_bytes()).map_err(|error| {
                        Error::Internal(format!("signing key {}: {error}", row.kid))
                    })?;
                let decoding = DecodingKey::from_ed_pem(row.public_key_pem.as_bytes())
                    .map_err(|error| Error::Internal(format!("public key {}: {error}", row.kid)))?;
                Ok(Key {
                    kid: row.kid,
                    encoding,
                    decoding,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Authority { keys, public, ttl })
    }

    /// The public keys, for zones (which check dataplane tokens with them).
    pub fn public_keys(&self) -> &[weft_identity::TrustedKey] {
        &self.public
    }

    /// A verifier of zone and dataplane tokens with these keys and `revoked` ids.
    pub fn verifier(&self, revoked: Vec<String>) -> weft_identity::Verifier {
        weft_identity::Verifier::new(&self.public, revoked).0
    }

    fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        let key = self
            .keys
            .first()
            .ok_or_else(|| Error::Internal("no signing key".into()))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.kid.clone());
        jsonwebtoken::encode(&header, claims, &key.encoding)
            .map_err(|error| Error::Internal(format!("signing token: {error}")))
    }

    /// A token for zone `zone`, valid for `valid_for`: (id, token, expiry in unix seconds).
    pub fn issue_zone_token(
        &self,
        zone: &str,
        valid_for: Duration,
    ) -> Result<(String, String, u64)> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = weft_identity::ZoneClaims {
            sub: zone.to_string(),
            iss: ISSUER.to_string(),
            aud: weft_identity::ZONE_AUDIENCE.to_string(),
            exp: now + valid_for.as_secs(),
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok((claims.jti.clone(), self.sign(&claims)?, claims.exp))
    }

    /// A token for proxies of `service` in `mesh` whose inbounds carry `tags`.
    pub fn issue_dataplane_token(
        &self,
        mesh: &str,
        service: &str,
        tags: &std::collections::BTreeMap<String, String>,
        valid_for: Duration,
    ) -> Result<(String, String, u64)> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = weft_identity::DataplaneClaims {
            sub: service.to_string(),
            mesh: mesh.to_string(),
            tags: tags.clone(),
            iss: ISSUER.to_string(),
            aud: weft_identity::DATAPLANE_AUDIENCE.to_string(),
            exp: now + valid_for.as_secs(),
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
        };
        Ok((claims.jti.clone(), self.sign(&claims)?, claims.exp))
    }

    /// Issues a token; returns it with its expiry (RFC 3339).
    pub fn issue(&self, subject: &str, platform_admin: bool) -> Result<(String, String)> {
        let now = jsonwebtoken::get_current_timestamp();
        let exp = now + self.ttl.as_secs();
        let claims = Claims {
            sub: subject.to_string(),
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            exp,
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            adm: platform_admin,
        };
        let token = self.sign(&claims)?;
        Ok((token, rfc3339(exp)))
    }

    pub fn verify(&self, token: &str) -> Result<Caller> {
        let invalid = || Error::Unauthorized("invalid or expired token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        let kid = header.kid.ok_or_else(invalid)?;
        let key = self
            .keys
            .iter()
            .find(|key| key.kid == kid)
            .ok_or_else(invalid)?;
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 30;
        let data = jsonwebtoken::decode::<Claims>(token, &key.decoding, &validation)
            .map_err(|_| invalid())?;
        Ok(Caller {
            subject: data.claims.sub,
            platform_admin: data.claims.adm,
        })
    }
}
