//! The zone's intermediate CA of each mesh: its key is made here and never leaves the zone;
//! global signs the zone's CSR. Kept in the zone store, so the zone goes on issuing proxy
//! certificates while global is away; renewed at 70 % of its lifetime.

use std::collections::HashMap;
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
}

pub struct ZoneCa {
    pub authority: CertificateAuthority,
    pub certificate_pem: String,
    pub trust_bundle_pem: String,
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
            renew_at: ca::renewal_time(&der).map_err(|error| error.to_string())?,
        })
    }

    /// Past 70 % of its lifetime (or expired).
    fn due(&self) -> bool {
        SystemTime::now() >= self.renew_at
    }
}

pub struct ZoneCas {
    store: ZoneStore,
    issued: RwLock<HashMap<String, Arc<ZoneCa>>>,
    /// Keys waiting for their certificate, by mesh.
    pending: Mutex<HashMap<String, (String, Instant)>>,
    changes: watch::Sender<u64>,
}

impl ZoneCas {
    /// No intermediate CA yet.
    pub fn empty(store: ZoneStore) -> ZoneCas {
        ZoneCas {
            store,
            issued: RwLock::default(),
            pending: Mutex::default(),
            changes: watch::channel(0).0,
        }
    }

    pub async fn load(store: &ZoneStore) -> crate::error::Result<ZoneCas> {
        let mut issued = HashMap::new();
        for (mesh, json) in store.mesh_cas().await? {
            match serde_json::from_str::<Stored>(&json)
                .map_err(|e| e.to_string())
                .and_then(|s| ZoneCa::load(&s))
            {
                Ok(zone_ca) => {
                    issued.insert(mesh, Arc::new(zone_ca));
                }
                Err(error) => {
                    tracing::warn!(%mesh, %error, "stored intermediate CA is unusable; asking again")
                }
            }
        }
        Ok(ZoneCas {
            store: store.clone(),
            issued: RwLock::new(issued),
            pending: Mutex::default(),
            changes: watch::channel(0).0,
        })
    }

    /// The intermediate CA of `mesh`, when the zone has one.
    pub fn get(&self, mesh: &str) -> Option<Arc<ZoneCa>> {
        self.issued
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(mesh)
            .cloned()
    }

    /// Ticks when an intermediate CA is issued.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// CSRs to send for `meshes` that have no intermediate CA or must renew it: (mesh, CSR).
    pub fn requests(&self, meshes: &[String], zone: &str) -> Vec<(String, String)> {
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut out = Vec::new();
        for mesh in meshes {
            let needed = self.get(mesh).is_none_or(|current| current.due());
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
    ) -> crate::error::Result<()> {
        let Some((key_pem, _)) = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(mesh)
        else {
            tracing::warn!(%mesh, "an intermediate CA nobody asked for; ignoring");
            return Ok(());
        };
        let stored = Stored {
            key_pem,
            certificate_pem,
            trust_bundle_pem,
        };
        let zone_ca = ZoneCa::load(&stored).map_err(crate::error::Error::Internal)?;
        let json = serde_json::to_string(&stored)
            .map_err(|error| crate::error::Error::Internal(error.to_string()))?;
        self.store.set_mesh_ca(mesh, &json).await?;
        self.issued
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(mesh.to_string(), Arc::new(zone_ca));
        tracing::info!(%mesh, "intermediate CA installed");
        self.changes.send_modify(|tick| *tick += 1);
        Ok(())
    }
}
