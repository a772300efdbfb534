//! JWTs signed with Ed25519 (EdDSA). Every token names its key (`kid`); all stored keys verify,
//! so keys can rotate without logging anyone out; the newest key signs. A replica that meets a
//! key it does not know reads the keys again (another replica rotated).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::spki::der::pem::LineEnding;
use ed25519_dalek::pkcs8::{EncodePrivateKey, EncodePublicKey};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::store::{Actor, SigningKeyRow, Store, now_millis};

pub const ISSUER: &str = weft_identity::ISSUER;

/// Unix seconds as RFC 3339.
pub fn rfc3339(seconds: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(seconds).unwrap_or(i64::MAX))
        .map(|ts| ts.to_string())
        .unwrap_or_default()
}
pub const AUDIENCE: &str = "weft-api";

/// The claims of a user's token (a login session or an API token).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    pub sub: String,
    pub iss: String,
    pub aud: String,
    pub exp: u64,
    pub iat: u64,
    /// Token id: API tokens are stored under it; logged-out sessions are revoked by it.
    pub jti: String,
    /// The user's token generation when the token was issued (a password change bumps it).
    #[serde(rename = "gen")]
    pub generation: u64,
    /// An API token (stored, narrowable, revocable by id) rather than a login session.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub api: bool,
}

struct Key {
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
}

/// The keys as loaded from the store: the first signs, all verify.
struct Keys {
    keys: Vec<Key>,
    /// The public halves, as zones receive them.
    public: Vec<weft_identity::TrustedKey>,
}

pub struct Authority {
    keys: ArcSwap<Keys>,
    /// When the keys were last read again because a token named an unknown key (another
    /// replica rotated): at most once a second, so unknown kids cannot flood the store.
    reloaded_at: Mutex<Option<Instant>>,
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

fn load_keys(rows: Vec<SigningKeyRow>) -> Result<Keys> {
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
            let encoding = EncodingKey::from_ed_pem(row.private_key_pem.as_bytes())
                .map_err(|error| Error::Internal(format!("signing key {}: {error}", row.kid)))?;
            let decoding = DecodingKey::from_ed_pem(row.public_key_pem.as_bytes())
                .map_err(|error| Error::Internal(format!("public key {}: {error}", row.kid)))?;
            Ok(Key {
                kid: row.kid,
                encoding,
                decoding,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Keys { keys, public })
}

/// What a verified user token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verified {
    pub user: String,
    pub token_id: String,
    pub generation: u64,
    pub api: bool,
    /// Unix seconds.
    pub expires_at: u64,
}

impl Authority {
    /// Loads the signing keys from the store, creating the first one when there is none.
    pub async fn load(store: &Store, ttl: Duration) -> Result<Authority> {
        let mut rows = store.signing_keys().await?;
        if rows.is_empty() {
            store.insert_signing_key(&generate_key()?).await?;
            rows = store.signing_keys().await?;
        }
        Ok(Authority {
            keys: ArcSwap::from_pointee(load_keys(rows)?),
            reloaded_at: Mutex::new(None),
            ttl,
        })
    }

    /// Reads the keys from the store again.
    pub async fn reload(&self, store: &Store) -> Result<()> {
        self.keys
            .store(Arc::new(load_keys(store.signing_keys().await?)?));
        Ok(())
    }

    /// Makes a new signing key: it signs from now on, and every older key keeps verifying the
    /// tokens it signed until they expire. Zones receive the new public key.
    pub async fn rotate(&self, store: &Store, actor: &Actor) -> Result<String> {
        let key = generate_key()?;
        store.rotate_signing_key(&key, actor).await?;
        self.reload(store).await?;
        Ok(key.kid)
    }

    /// The public keys, for zones (which check dataplane tokens with them).
    pub fn public_keys(&self) -> Vec<weft_identity::TrustedKey> {
        self.keys.load().public.clone()
    }

    /// A verifier of zone and dataplane tokens with these keys and `revoked` ids.
    pub fn verifier(&self, revoked: Vec<String>) -> weft_identity::Verifier {
        weft_identity::Verifier::new(&self.keys.load().public, revoked).0
    }

    fn sign<C: Serialize>(&self, claims: &C) -> Result<String> {
        let keys = self.keys.load();
        let key = keys
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

    /// A login token for `user` at token generation `generation`: (token, expiry in unix
    /// seconds).
    pub fn issue_session(&self, user: &str, generation: u64) -> Result<(String, u64)> {
        let (_, token, exp) = self.issue_user_token(user, generation, self.ttl, false)?;
        Ok((token, exp))
    }

    /// An API token for `user`: (id, token, expiry in unix seconds).
    pub fn issue_api_token(
        &self,
        user: &str,
        generation: u64,
        valid_for: Duration,
    ) -> Result<(String, String, u64)> {
        self.issue_user_token(user, generation, valid_for, true)
    }

    fn issue_user_token(
        &self,
        user: &str,
        generation: u64,
        valid_for: Duration,
        api: bool,
    ) -> Result<(String, String, u64)> {
        let now = jsonwebtoken::get_current_timestamp();
        let claims = Claims {
            sub: user.to_string(),
            iss: ISSUER.to_string(),
            aud: AUDIENCE.to_string(),
            exp: now + valid_for.as_secs(),
            iat: now,
            jti: uuid::Uuid::new_v4().to_string(),
            generation,
            api,
        };
        Ok((claims.jti.clone(), self.sign(&claims)?, claims.exp))
    }

    /// Checks a user token's signature (EdDSA only, a known `kid`), issuer, audience and
    /// expiry. Revocation and the user's current state are checked by the caller.
    pub async fn verify(&self, token: &str, store: &Store) -> Result<Verified> {
        let invalid = || Error::Unauthorized("invalid or expired token");
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid())?;
        if header.alg != Algorithm::EdDSA {
            return Err(invalid());
        }
        let kid = header.kid.ok_or_else(invalid)?;
        if !self.knows(&kid) && self.may_reload() {
            self.reload(store).await?;
        }
        let keys = self.keys.load();
        let key = keys
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
        Ok(Verified {
            user: data.claims.sub,
            token_id: data.claims.jti,
            generation: data.claims.generation,
            api: data.claims.api,
            expires_at: data.claims.exp,
        })
    }

    fn knows(&self, kid: &str) -> bool {
        self.keys.load().keys.iter().any(|key| key.kid == kid)
    }

    fn may_reload(&self) -> bool {
        let mut last = self
            .reloaded_at
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let now = Instant::now();
        if last.is_some_and(|at| now.duration_since(at) < Duration::from_secs(1)) {
            return false;
        }
        *last = Some(now);
        true
    }
}
