//! The zone's intermediate CA of each mesh: its key is made here and never leaves the zone;
//! global signs the zone's CSR. Kept in the zone store, so the zone goes on issuing proxy
//! certificates while global is away; renewed at 70 % of its lifetime, and again when global
//! names another signing root.
//!
//! Also what each mesh trusts (global's `MeshTrust`, kept in the store too) and which
//! certificates the zone's proxies hold: during a CA rotation every proxy is asked for new
//! certificates at each step, and global hears how many have them.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use serde::{Deserialize, Serialize};
use tokio::sync::watch;
use weft_identity::ca::{self, CertificateAuthority};

use crate::store::ZoneStore;

/// A request unanswered for this long is sent again.
const REQUEST_AGAIN: Duration = Duration::from_secs(30);

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Stored {
    key_pem: String,
    certificate_pem: String,
    trust_bundle_pem: String,
    /// The root that signed it (empty for intermediates kept before rotations existed).
    #[serde(default)]
    signing_fingerprint: String,
}

pub struct ZoneCa {
    pub authority: CertificateAuthority,
    pub certificate_pem: String,
    pub trust_bundle_pem: String,
    pub signing_fingerprint: String,
    renew_at: SystemTime,
}

impl ZoneCa {
    fn load(stored: &Stored) -> Result<ZoneCa, String> {
        let authority = CertificateAuthority::load(&stored.certificate_pem, &stored.key_pem)
            .map_err(|error| error.to_string())?;
        let der = ca::first_der(&stored.certificate_pem).map_err(|error| error.to_string())?;
        Ok(ZoneCa {
            authority,
            certificate_pem: stored.certificate_pem.clone(),
            trust_bundle_pem: stored.trust_bundle_pem.clone(),
            signing_fingerprint: stored.signing_fingerprint.clone(),
            renew_at: ca::renewal_time(&der).map_err(|error| error.to_string())?,
        })
    }

    /// Past 70 % of its lifetime (or expired).
    fn due(&self) -> bool {
        SystemTime::now() >= self.renew_at
    }
}

/// A mesh's trust as global sent it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshTrust {
    pub generation: u64,
    pub bundle_pem: String,
    pub signing_fingerprint: String,
    pub phase: String,
}

/// One connected proxy's certificates: the trust generation each service's was issued under.
struct Holder {
    session: u64,
    services: Vec<String>,
    issued: HashMap<String, u64>,
}

/// How far a mesh's proxies in this zone are with its trust generation.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Progress {
    pub generation: u64,
    pub proxies: u32,
    pub current: u32,
    pub intermediate_current: bool,
}

pub struct ZoneCas {
    store: ZoneStore,
    issued: RwLock<HashMap<String, Arc<ZoneCa>>>,
    /// Keys waiting for their certificate, by mesh.
    pending: Mutex<HashMap<String, (String, Instant)>>,
    trust: RwLock<HashMap<String, MeshTrust>>,
    holders: Mutex<HashMap<(String, String), Holder>>,
    /// Ticks when a mesh's trust or intermediate changes: proxies may need new certificates.
    trust_changes: watch::Sender<u64>,
    /// Ticks when a proxy's certificates or the set of proxies change.
    progress_changes: watch::Sender<u64>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl ZoneCas {
    /// No intermediate CA yet.
    pub fn empty(store: ZoneStore) -> ZoneCas {
        ZoneCas {
            store,
            issued: RwLock::default(),
            pending: Mutex::default(),
            trust: RwLock::default(),
            holders: Mutex::default(),
            trust_changes: watch::channel(0).0,
            progress_changes: watch::channel(0).0,
        }
    }

    pub async fn load(store: &ZoneStore) -> crate::error::Result<ZoneCas> {
        let cas = ZoneCas::empty(store.clone());
        for (mesh, json) in store.mesh_cas().await? {
            match serde_json::from_str::<Stored>(&json)
                .map_err(|e| e.to_string())
                .and_then(|s| ZoneCa::load(&s))
            {
                Ok(zone_ca) => {
                    write(&cas.issued).insert(mesh, Arc::new(zone_ca));
                }
                Err(error) => {
                    tracing::warn!(%mesh, %error, "stored intermediate CA is unusable; asking again")
                }
            }
        }
        for (mesh, json) in store.mesh_trusts().await? {
            match serde_json::from_str::<MeshTrust>(&json) {
                Ok(trust) => {
                    write(&cas.trust).insert(mesh, trust);
                }
                Err(error) => tracing::warn!(%mesh, %error, "stored mesh trust is unreadable"),
            }
        }
        Ok(cas)
    }

    /// The intermediate CA of `mesh`, when the zone has one.
    pub fn get(&self, mesh: &str) -> Option<Arc<ZoneCa>> {
        read(&self.issued).get(mesh).cloned()
    }

    pub fn trust(&self, mesh: &str) -> Option<MeshTrust> {
        read(&self.trust).get(mesh).cloned()
    }

    /// Ticks when proxies of some mesh may need new certificates.
    pub fn subscribe_trust(&self) -> watch::Receiver<u64> {
        self.trust_changes.subscribe()
    }

    /// Ticks when the zone's progress reports may have changed.
    pub fn subscribe_progress(&self) -> watch::Receiver<u64> {
        self.progress_changes.subscribe()
    }

    /// The trust generation certificates of `mesh` are issued under now: known only while the
    /// zone's intermediate was signed by the mesh's signing root.
    pub fn current_generation(&self, mesh: &str) -> Option<u64> {
        let trust = self.trust(mesh)?;
        let zone_ca = self.get(mesh)?;
        (zone_ca.signing_fingerprint == trust.signing_fingerprint).then_some(trust.generation)
    }

    /// Whether `mesh`'s CA is rotating (every reconnecting proxy is asked to renew then).
    pub fn rotating(&self, mesh: &str) -> bool {
        self.trust(mesh).is_some_and(|trust| trust.phase != "ready")
    }

    /// The roots proxies of `mesh` trust: global's latest word, else the intermediate's.
    pub fn bundle(&self, mesh: &str) -> Option<String> {
        self.trust(mesh).map(|trust| trust.bundle_pem).or_else(|| {
            self.get(mesh)
                .map(|zone_ca| zone_ca.trust_bundle_pem.clone())
        })
    }

    /// Global's word on what `mesh` trusts.
    pub async fn set_trust(&self, mesh: &str, trust: MeshTrust) -> crate::error::Result<()> {
        if self.trust(mesh).as_ref() == Some(&trust) {
            return Ok(());
        }
        let json = serde_json::to_string(&trust)
            .map_err(|error| crate::error::Error::Internal(error.to_string()))?;
        self.store.set_mesh_trust(mesh, &json).await?;
        tracing::info!(%mesh, generation = trust.generation, phase = %trust.phase, "mesh trust updated");
        write(&self.trust).insert(mesh.to_string(), trust);
        self.trust_changes.send_modify(|tick| *tick += 1);
        self.progress_changes.send_modify(|tick| *tick += 1);
        Ok(())
    }

    /// CSRs to send for `meshes` that have no intermediate CA, must renew it, or were signed by
    /// another root than the one that signs now: (mesh, CSR).
    pub fn requests(&self, meshes: &[String], zone: &str) -> Vec<(String, String)> {
        let mut pending = lock(&self.pending);
        let mut out = Vec::new();
        for mesh in meshes {
            let signer = self.trust(mesh).map(|trust| trust.signing_fingerprint);
            let needed = self.get(mesh).is_none_or(|current| {
                current.due()
                    || signer
                        .as_ref()
                        .is_some_and(|signer| *signer != current.signing_fingerprint)
            });
            let waiting = pending
                .get(mesh)
                .is_some_and(|(_, asked)| asked.elapsed() < REQUEST_AGAIN);
            if !needed || waiting {
                continue;
            }
            match ca::new_key_and_csr(&format!("weft zone {zone} mesh {mesh}")) {
                Ok((key, csr)) => {
                    pending.insert(mesh.clone(), (key, Instant::now()));
                    out.push((mesh.clone(), csr));
                }
                Err(error) => tracing::error!(%mesh, %error, "cannot make a CA key"),
            }
        }
        out
    }

    /// Global's answer to a request.
    pub async fn issued(
        &self,
        mesh: &str,
        certificate_pem: String,
        trust_bundle_pem: String,
        signing_fingerprint: String,
    ) -> crate::error::Result<()> {
        let Some((key_pem, _)) = lock(&self.pending).remove(mesh) else {
            tracing::warn!(%mesh, "an intermediate CA nobody asked for; ignoring");
            return Ok(());
        };
        let stored = Stored {
            key_pem,
            certificate_pem,
            trust_bundle_pem,
            signing_fingerprint,
        };
        let zone_ca = ZoneCa::load(&stored).map_err(crate::error::Error::Internal)?;
        let json = serde_json::to_string(&stored)
            .map_err(|error| crate::error::Error::Internal(error.to_string()))?;
        self.store.set_mesh_ca(mesh, &json).await?;
        write(&self.issued).insert(mesh.to_string(), Arc::new(zone_ca));
        tracing::info!(%mesh, "intermediate CA installed");
        self.trust_changes.send_modify(|tick| *tick += 1);
        self.progress_changes.send_modify(|tick| *tick += 1);
        Ok(())
    }

    /// A proxy of `mesh` serving `services` connected (session `session`).
    pub fn session_started(&self, mesh: &str, name: &str, session: u64, services: Vec<String>) {
        lock(&self.holders).insert(
            (mesh.to_string(), name.to_string()),
            Holder {
                session,
                services,
                issued: HashMap::new(),
            },
        );
        self.progress_changes.send_modify(|tick| *tick += 1);
    }

    pub fn session_ended(&self, mesh: &str, name: &str, session: u64) {
        let mut holders = lock(&self.holders);
        let key = (mesh.to_string(), name.to_string());
        if holders
            .get(&key)
            .is_some_and(|holder| holder.session == session)
        {
            holders.remove(&key);
        }
        drop(holders);
        self.progress_changes.send_modify(|tick| *tick += 1);
    }

    /// The zone issued `service`'s certificate to a proxy, under `generation` (0: not current).
    pub fn certificate_issued(
        &self,
        mesh: &str,
        name: &str,
        session: u64,
        service: &str,
        generation: u64,
    ) {
        if let Some(holder) = lock(&self.holders)
            .get_mut(&(mesh.to_string(), name.to_string()))
            .filter(|holder| holder.session == session)
        {
            holder.issued.insert(service.to_string(), generation);
        }
        self.progress_changes.send_modify(|tick| *tick += 1);
    }

    /// Whether the proxy of session `session` holds certificates of `generation` for all its
    /// services.
    pub fn holds(&self, mesh: &str, name: &str, session: u64, generation: u64) -> bool {
        lock(&self.holders)
            .get(&(mesh.to_string(), name.to_string()))
            .filter(|holder| holder.session == session)
            .is_some_and(|holder| holder_current(holder, generation))
    }

    /// Progress of every mesh global gave a trust generation.
    pub fn progress(&self) -> BTreeMap<String, Progress> {
        let trusts = read(&self.trust).clone();
        let holders = lock(&self.holders);
        trusts
            .into_iter()
            .map(|(mesh, trust)| {
                let of_mesh: Vec<&Holder> = holders
                    .iter()
                    .filter(|((of, _), _)| *of == mesh)
                    .map(|(_, holder)| holder)
                    .collect();
                let progress = Progress {
                    generation: trust.generation,
                    proxies: u32::try_from(of_mesh.len()).unwrap_or(u32::MAX),
                    current: u32::try_from(
                        of_mesh
                            .iter()
                            .filter(|holder| holder_current(holder, trust.generation))
                            .count(),
                    )
                    .unwrap_or(u32::MAX),
                    intermediate_current: self.current_generation(&mesh) == Some(trust.generation),
                };
                (mesh, progress)
            })
            .collect()
    }
}

fn holder_current(holder: &Holder, generation: u64) -> bool {
    holder.services.iter().all(|service| {
        holder
            .issued
            .get(service)
            .is_some_and(|issued| *issued >= generation)
    })
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    lock.write()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
