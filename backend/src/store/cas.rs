//! Mesh root CAs (certificate, encrypted key, fingerprint) and each mesh's rotation state.

use sqlx::Row;

use super::Store;
use super::audit::{Actor, AuditEntry, record};
use crate::error::{Error, Result};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshCaRoot {
    pub mesh: String,
    /// 1, 2, … per mesh.
    pub id: i64,
    pub certificate: String,
    pub encrypted_key: String,
    pub fingerprint: String,
    /// `builtin` or `provided`.
    pub source: String,
    pub created_at: i64,
}

/// Where a mesh's CA rotation stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Phase {
    /// One root, trusted and signing.
    Ready,
    /// The new root is trusted too; the old one still signs.
    Trusting,
    /// Both trusted; the new root signs and every certificate is issued again.
    Reissuing,
    /// Only the new root is trusted; the old one goes once every proxy knows.
    Retiring,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::Ready => "ready",
            Phase::Trusting => "trusting",
            Phase::Reissuing => "reissuing",
            Phase::Retiring => "retiring",
        }
    }

    fn parse(text: &str) -> Result<Phase> {
        Ok(match text {
            "ready" => Phase::Ready,
            "trusting" => Phase::Trusting,
            "reissuing" => Phase::Reissuing,
            "retiring" => Phase::Retiring,
            other => return Err(Error::Internal(format!("unknown CA phase {other:?}"))),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MeshCaState {
    pub mesh: String,
    pub phase: Phase,
    /// The root that signs zone intermediates.
    pub signer: i64,
    /// Trusted roots, oldest first.
    pub trusted: Vec<i64>,
    pub generation: i64,
    pub changed_at: i64,
}

fn root_from(row: &sqlx::any::AnyRow) -> Result<MeshCaRoot> {
    Ok(MeshCaRoot {
        mesh: row.try_get("mesh")?,
        id: row.try_get("id")?,
        certificate: row.try_get("certificate")?,
        encrypted_key: row.try_get("encrypted_key")?,
        fingerprint: row.try_get("fingerprint")?,
        source: row.try_get("source")?,
        created_at: row.try_get("created_at")?,
    })
}

fn state_from(row: &sqlx::any::AnyRow) -> Result<MeshCaState> {
    let trusted: String = row.try_get("trusted")?;
    Ok(MeshCaState {
        mesh: row.try_get("mesh")?,
        phase: Phase::parse(&row.try_get::<String, _>("phase")?)?,
        signer: row.try_get("signer")?,
        trusted: trusted
            .split(',')
            .filter(|id| !id.is_empty())
            .map(|id| {
                id.parse()
                    .map_err(|_| Error::Internal(format!("bad root id {id:?}")))
            })
            .collect::<Result<_>>()?,
        generation: row.try_get("generation")?,
        changed_at: row.try_get("changed_at")?,
    })
}

fn joined(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

impl Store {
    pub async fn mesh_ca_state(&self, mesh: &str) -> Result<Option<MeshCaState>> {
        let row = sqlx::query(
            "SELECT mesh, phase, signer, trusted, generation, changed_at FROM mesh_ca_state WHERE mesh = $1",
        )
        .bind(mesh)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(state_from).transpose()
    }

    pub async fn mesh_ca_states(&self) -> Result<Vec<MeshCaState>> {
        let rows = sqlx::query(
            "SELECT mesh, phase, signer, trusted, generation, changed_at FROM mesh_ca_state ORDER BY mesh",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(state_from).collect()
    }

    /// Every root of a mesh, oldest first.
    pub async fn mesh_ca_roots(&self, mesh: &str) -> Result<Vec<MeshCaRoot>> {
        let rows = sqlx::query(
            "SELECT mesh, id, certificate, encrypted_key, fingerprint, source, created_at FROM mesh_ca_roots WHERE mesh = $1 ORDER BY id",
        )
        .bind(mesh)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(root_from).collect()
    }

    /// A mesh's first root and its state, unless it has one (two replicas creating it at once
    /// keep the first).
    pub async fn create_mesh_ca(&self, root: &MeshCaRoot) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let created = sqlx::query(
            "INSERT INTO mesh_ca_state (mesh, phase, signer, trusted, generation, changed_at)
             VALUES ($1, 'ready', $2, $3, 1, $4) ON CONFLICT (mesh) DO NOTHING",
        )
        .bind(&root.mesh)
        .bind(root.id)
        .bind(root.id.to_string())
        .bind(root.created_at)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        if created == 1 {
            insert_root(&mut tx, root).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Adds `root` as the next root of its mesh and moves the state from `expected` (its
    /// generation) to `next`; false when another writer moved it first.
    pub async fn start_mesh_ca_rotation(
        &self,
        root: &MeshCaRoot,
        expected: i64,
        next: &MeshCaState,
        audit: Option<(&Actor, &AuditEntry)>,
    ) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !update_state(&mut tx, expected, next).await? {
            return Ok(false);
        }
        insert_root(&mut tx, root).await?;
        if let Some((actor, entry)) = audit {
            record(&mut tx, actor, entry).await?;
        }
        tx.commit().await?;
        Ok(true)
    }

    /// Moves a mesh's state from generation `expected` to `next`, deleting the roots `next` no
    /// longer trusts; false when another writer moved it first.
    pub async fn advance_mesh_ca(&self, expected: i64, next: &MeshCaState) -> Result<bool> {
        let mut tx = self.pool.begin().await?;
        if !update_state(&mut tx, expected, next).await? {
            return Ok(false);
        }
        let roots = sqlx::query("SELECT id FROM mesh_ca_roots WHERE mesh = $1")
            .bind(&next.mesh)
            .fetch_all(&mut *tx)
            .await?;
        for row in roots {
            let id: i64 = row.try_get("id")?;
            if !next.trusted.contains(&id) && next.signer != id {
                sqlx::query("DELETE FROM mesh_ca_roots WHERE mesh = $1 AND id = $2")
                    .bind(&next.mesh)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
        Ok(true)
    }
}

impl Store {
    /// Forgets a mesh's CA entirely (the mesh was deleted).
    pub async fn delete_mesh_ca(&self, mesh: &str) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM mesh_ca_state WHERE mesh = $1")
            .bind(mesh)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM mesh_ca_roots WHERE mesh = $1")
            .bind(mesh)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_root(tx: &mut sqlx::Transaction<'_, sqlx::Any>, root: &MeshCaRoot) -> Result<()> {
    sqlx::query(
        "INSERT INTO mesh_ca_roots (mesh, id, certificate, encrypted_key, fingerprint, source, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&root.mesh)
    .bind(root.id)
    .bind(&root.certificate)
    .bind(&root.encrypted_key)
    .bind(&root.fingerprint)
    .bind(&root.source)
    .bind(root.created_at)
    .execute(&mut **tx)
    .await?;
    Ok(())
}

async fn update_state(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    expected: i64,
    next: &MeshCaState,
) -> Result<bool> {
    let updated = sqlx::query(
        "UPDATE mesh_ca_state SET phase = $1, signer = $2, trusted = $3, generation = $4,
         changed_at = $5 WHERE mesh = $6 AND generation = $7",
    )
    .bind(next.phase.as_str())
    .bind(next.signer)
    .bind(joined(&next.trusted))
    .bind(next.generation)
    .bind(next.changed_at)
    .bind(&next.mesh)
    .bind(expected)
    .execute(&mut **tx)
    .await?
    .rows_affected();
    Ok(updated == 1)
}
