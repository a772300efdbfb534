//! The proxy's certificates, one per service it serves: the key is made here and never
//! leaves the proxy; the zone signs the CSR. Renewed at 70 % of their lifetime; a new
//! certificate replaces the old one for new connections while open ones finish.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;
use weft_identity::ca;

/// A request unanswered for this long is sent again.
const REQUEST_AGAIN: Duration = Duration::from_secs(10);

/// A certificate of one service identity.
pub struct Identity {
    pub service: String,
    pub mesh: String,
    pub spiffe_id: String,
    /// TLS configs made from it.
    pub tls: crate::tls::TlsConfigs,
    pub key_pem: String,
    /// Leaf, then the zone's intermediate.
    pub chain_pem: String,
    pub trust_bundle_pem: String,
    pub not_before: SystemTime,
    pub not_after: SystemTime,
    pub renew_at: SystemTime,
    /// The renewal round it was asked for in (see [`Identities::renew_all`]).
    round: u64,
    /// Fingerprint of the trusted root the certificate chains to.
    pub issued_by: String,
}

impl Identity {
    fn due(&self, round: u64) -> bool {
        SystemTime::now() >= self.renew_at || self.round < round
    }
}

/// What `/identity` on the admin port shows.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct IdentityView {
    pub service: String,
    pub spiffe_id: String,
    /// Unix seconds.
    pub not_before: u64,
    pub not_after: u64,
    /// When the proxy asks for its next certificate.
    pub renew_at: u64,
    /// Fingerprint of the root the certificate chains to.
    pub issued_by: String,
    pub trust_bundle_fingerprints: Vec<String>,
}

#[derive(Default)]
pub struct Identities {
    by_service: RwLock<HashMap<String, Arc<Identity>>>,
    /// Keys waiting for their certificate, by service, with the round they were made in.
    pending: Mutex<HashMap<String, (String, Instant, u64)>>,
    /// Bumped when the zone asks for new certificates whatever their age.
    round: std::sync::atomic::AtomicU64,
    /// Bumped whenever a certificate is installed.
    pub generation: std::sync::atomic::AtomicU64,
}

fn unix(time: SystemTime) -> u64 {
    time.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Identities {
    pub fn get(&self, service: &str) -> Option<Arc<Identity>> {
        self.by_service
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(service)
            .cloned()
    }

    /// The zone asked for new certificates (the mesh's trust changed): every one is due.
    pub fn renew_all(&self) {
        self.round
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// CSRs to send for `services` that have no certificate or must renew it.
    pub fn requests(&self, services: &[String]) -> Vec<(String, String)> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = Vec::new();
        let round = self.round.load(std::sync::atomic::Ordering::Relaxed);
        for service in services {
            let needed = self.get(service).is_none_or(|identity| identity.due(round));
            // One request at a time per service: an answer always matches the key waiting.
            let waiting = pending
                .get(service)
                .is_some_and(|(_, asked, _)| asked.elapsed() < REQUEST_AGAIN);
            if !needed || waiting {
                continue;
            }
            match ca::new_key_and_csr(&format!("weft proxy {service}")) {
                Ok((key, csr)) => {
                    pending.insert(service.clone(), (key, Instant::now(), round));
                    out.push((service.clone(), csr));
                }
                Err(error) => tracing::error!(%service, %error, "cannot make a key"),
            }
        }
        out
    }

    /// The zone's answer: installs the certificate when it matches a waiting key.
    pub fn issued(
        &self,
        service: &str,
        chain_pem: String,
        trust_bundle_pem: String,
    ) -> Result<(), String> {
        let Some((key_pem, _, round)) = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(service)
        else {
            return Err(format!("a certificate for {service} nobody asked for"));
        };
        self.install(service, key_pem, chain_pem, trust_bundle_pem, round)
    }

    /// Installs a certificate and its key for `service` (from the zone's answer, or from files
    /// when the proxy runs without a zone).
    pub fn install(
        &self,
        service: &str,
        key_pem: String,
        chain_pem: String,
        trust_bundle_pem: String,
        round: u64,
    ) -> Result<(), String> {
        let leaf = ca::first_der(&chain_pem).map_err(|error| error.to_string())?;
        let (mesh, named) = ca::identity_of(&leaf).map_err(|error| error.to_string())?;
        if named != service {
            return Err(format!(
                "the zone sent a certificate for {named}, not {service}"
            ));
        }
        let issued_by = crate::tls::issuing_root(&chain_pem, &trust_bundle_pem)?;
        let tls = crate::tls::configs(&mesh, &key_pem, &chain_pem, &trust_bundle_pem)?;
        let identity = Identity {
            service: service.to_string(),
            spiffe_id: ca::spiffe_id(&mesh, service),
            mesh,
            tls,
            key_pem,
            not_before: ca::not_before(&leaf).map_err(|error| error.to_string())?,
            not_after: ca::not_after(&leaf).map_err(|error| error.to_string())?,
            renew_at: ca::renewal_time(&leaf).map_err(|error| error.to_string())?,
            round,
            issued_by,
            chain_pem,
            trust_bundle_pem,
        };
        tracing::info!(identity = %identity.spiffe_id, expires = unix(identity.not_after), "certificate installed");
        self.by_service
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(service.to_string(), Arc::new(identity));
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    pub fn views(&self) -> Vec<IdentityView> {
        let mut views: Vec<IdentityView> = self
            .by_service
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .map(|identity| IdentityView {
                service: identity.service.clone(),
                spiffe_id: identity.spiffe_id.clone(),
                not_before: unix(identity.not_before),
                not_after: unix(identity.not_after),
                renew_at: unix(identity.renew_at),
                issued_by: identity.issued_by.clone(),
                trust_bundle_fingerprints: ca::all_der(&identity.trust_bundle_pem)
                    .unwrap_or_default()
                    .iter()
                    .map(|der| ca::fingerprint(der))
                    .collect(),
            })
            .collect();
        views.sort_by(|a, b| a.service.cmp(&b.service));
        views
    }
}
