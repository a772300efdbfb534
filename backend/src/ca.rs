//! Each mesh's root CA, kept in the store with its key encrypted: created the first time the
//! mesh needs it; it signs the intermediate CAs zones ask for, and nothing else. The key is
//! never logged and never leaves this module in the clear.

use std::sync::Arc;
use std::time::Duration;

use weft_identity::ca::{self, CertificateAuthority};

use crate::error::{Error, Result};
use crate::secrets::Secrets;
use crate::store::{MeshCaRow, Store, now_millis};

const ROOT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Zones renew their intermediates at 70 % of this.
pub const INTERMEDIATE_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

pub struct MeshCas {
    store: Store,
    secrets: Arc<Secrets>,
}

impl MeshCas {
    pub fn new(store: Store, secrets: Arc<Secrets>) -> MeshCas {
        MeshCas { store, secrets }
    }

    /// The mesh's root CA, created when it has none yet.
    pub async fn root(&self, mesh: &str) -> Result<MeshCaRow> {
        if let Some(row) = self.store.mesh_ca(mesh).await? {
            return Ok(row);
        }
        let (certificate, key) = ca::new_root(mesh, ROOT_LIFETIME)
            .map_err(|error| Error::Internal(format!("creating the CA of mesh {mesh}: {error}")))?;
        let der =
            ca::first_der(&certificate).map_err(|error| Error::Internal(error.to_string()))?;
        let row = MeshCaRow {
            mesh: mesh.to_string(),
            certificate,
            encrypted_key: self.secrets.seal(&key)?,
            fingerprint: ca::fingerprint(&der),
            created_at: now_millis(),
        };
        self.store.insert_mesh_ca(&row).await?;
        tracing::info!(mesh, fingerprint = %row.fingerprint, "mesh CA created");
        // Another replica may have stored one first: that one counts.
        self.store
            .mesh_ca(mesh)
            .await?
            .ok_or_else(|| Error::Internal("the mesh CA vanished".into()))
    }

    /// An intermediate CA for `zone` in `mesh` from the zone's CSR: (certificate, root).
    pub async fn sign_intermediate(
        &self,
        mesh: &str,
        zone: &str,
        csr: &str,
    ) -> Result<(String, String)> {
        let row = self.root(mesh).await?;
        let key = self.secrets.open(&row.encrypted_key)?;
        let authority = CertificateAuthority::load(&row.certificate, &key)
            .map_err(|error| Error::Internal(format!("loading the CA of mesh {mesh}: {error}")))?;
        let certificate = authority
            .sign_intermediate(csr, mesh, zone, INTERMEDIATE_LIFETIME)
            .map_err(|error| {
                Error::BadRequest(format!(
                    "the CA request of zone {zone} for mesh {mesh}: {error}"
                ))
            })?;
        Ok((certificate, row.certificate))
    }
}
