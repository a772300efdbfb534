//! Mesh root CAs: certificate, encrypted key, fingerprint.

use sqlx::Row;

use super::Store;
use crate::error::Result;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshCaRow {
    pub mesh: String,
    pub certificate: String,
    pub encrypted_key: String,
    pub fingerprint: String,
    pub created_at: i64,
}

impl Store {
    pub async fn mesh_ca(&self, mesh: &str) -> Result<Option<MeshCaRow>> {
        let row = sqlx::query(
            "SELECT mesh, certificate, encrypted_key, fingerprint, created_at FROM mesh_cas WHERE mesh = $1",
        )
        .bind(mesh)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|row| {
            Ok(MeshCaRow {
                mesh: row.try_get("mesh")?,
                certificate: row.try_get("certificate")?,
                encrypted_key: row.try_get("encrypted_key")?,
                fingerprint: row.try_get("fingerprint")?,
                created_at: row.try_get("created_at")?,
            })
        })
        .transpose()
    }

    /// Stores a CA unless the mesh has one (two replicas creating it at once keep the first).
    pub async fn insert_mesh_ca(&self, ca: &MeshCaRow) -> Result<()> {
        sqlx::query(
            "INSERT INTO mesh_cas (mesh, certificate, encrypted_key, fingerprint, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (mesh) DO NOTHING",
        )
        .bind(&ca.mesh)
        .bind(&ca.certificate)
        .bind(&ca.encrypted_key)
        .bind(&ca.fingerprint)
        .bind(ca.created_at)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
