//! The zone's local SQLite store: what it received from global (at global revisions) and the
//! dataplanes it registered (at its own revisions, with tombstones so global can resume).

use std::path::Path;
use std::str::FromStr;

use sqlx::Row;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use weft_model::Resource;
use weft_model::resource::Author;

use crate::error::{Error, Result};

static MIGRATIONS: sqlx::migrate::Migrator = sqlx::migrate!("../migrations/zone");

/// A resource received from global.
#[derive(Clone, Debug, PartialEq)]
pub struct GlobalResource {
    pub kind: String,
    pub mesh: String,
    pub name: String,
    pub zone: String,
    pub revision: u64,
    /// `None` for a deletion.
    pub manifest: Option<String>,
}

/// A change to one of this zone's own dataplanes.
#[derive(Clone, Debug, PartialEq)]
pub struct LocalChange {
    pub mesh: String,
    pub name: String,
    pub revision: u64,
    /// JSON manifest; `None` for a deletion.
    pub manifest: Option<String>,
}

#[derive(Clone)]
pub struct ZoneStore {
    pool: SqlitePool,
    store_id: String,
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl ZoneStore {
    pub async fn open(path: &Path) -> Result<ZoneStore> {
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(std::time::Duration::from_secs(10));
        let pool = SqlitePoolOptions::new()
            .max_connections(4)
            .connect_with(options)
            .await?;
        MIGRATIONS.run(&pool).await?;
        sqlx::query("INSERT INTO zone_meta (key, value) VALUES ('zone_store_id', ?1) ON CONFLICT (key) DO NOTHING")
            .bind(uuid::Uuid::new_v4().to_string())
            .execute(&pool)
            .await?;
        let store_id = meta(&pool, "zone_store_id").await?.unwrap_or_default();
        Ok(ZoneStore { pool, store_id })
    }

    pub fn store_id(&self) -> &str {
        &self.store_id
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// The global store id and revision this zone has applied.
    pub async fn global_position(&self) -> Result<(String, u64)> {
        let store_id = meta(&self.pool, "global_store_id")
            .await?
            .unwrap_or_default();
        let revision = meta(&self.pool, "global_revision")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok((store_id, revision))
    }

    /// Applies a batch from global in one transaction. With `replace`, everything received
    /// before is dropped first (a snapshot).
    pub async fn apply_global(
        &self,
        resources: &[GlobalResource],
        replace: bool,
        global_store_id: &str,
        revision: u64,
    ) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        if replace {
            sqlx::query("DELETE FROM global_resources")
                .execute(&mut *transaction)
                .await?;
        }
        for resource in resources {
            match &resource.manifest {
                Some(manifest) => {
                    sqlx::query(
                        "INSERT INTO global_resources (kind, mesh, name, zone, revision, manifest) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
                         ON CONFLICT (kind, mesh, name) DO UPDATE SET zone = excluded.zone, revision = excluded.revision,
                           manifest = excluded.manifest",
                    )
                    .bind(&resource.kind)
                    .bind(&resource.mesh)
                    .bind(&resource.name)
                    .bind(&resource.zone)
                    .bind(to_i64(resource.revision))
                    .bind(manifest)
                    .execute(&mut *transaction)
                    .await?;
                }
                None => {
                    sqlx::query(
                        "DELETE FROM global_resources WHERE kind = ?1 AND mesh = ?2 AND name = ?3",
                    )
                    .bind(&resource.kind)
                    .bind(&resource.mesh)
                    .bind(&resource.name)
                    .execute(&mut *transaction)
                    .await?;
                }
            }
        }
        set_meta(&mut transaction, "global_store_id", global_store_id).await?;
        set_meta(&mut transaction, "global_revision", &revision.to_string()).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Every resource received from global.
    pub async fn global_resources(&self) -> Result<Vec<GlobalResource>> {
        let rows = sqlx::query("SELECT kind, mesh, name, zone, revision, manifest FROM global_resources ORDER BY revision")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                Ok(GlobalResource {
                    kind: row.try_get("kind")?,
                    mesh: row.try_get("mesh")?,
                    name: row.try_get("name")?,
                    zone: row.try_get("zone")?,
                    revision: to_u64(row.try_get("revision")?),
                    manifest: Some(row.try_get("manifest")?),
                })
            })
            .collect()
    }

    /// Registers or updates one of this zone's dataplanes; returns its new zone revision,
    /// or the current one when nothing changed.
    pub async fn put_local(&self, resource: &Resource) -> Result<u64> {
        let revisions = self.put_locals(std::slice::from_ref(resource)).await?;
        revisions
            .first()
            .copied()
            .ok_or_else(|| Error::Internal("no revision for a registration".into()))
    }

    /// Registers or updates several dataplanes in one transaction (a burst of proxies joining
    /// costs one commit); returns each one's zone revision, or the current one when it did not
    /// change.
    pub async fn put_locals(&self, resources: &[Resource]) -> Result<Vec<u64>> {
        // It reads before it writes: take the write lock first, so a concurrent writer makes it
        // wait (busy timeout) rather than fail on upgrading.
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let mut revisions = Vec::with_capacity(resources.len());
        let mut latest: Option<u64> = None;
        for resource in resources {
            let manifest = serde_json::to_string(&resource.to_manifest())
                .map_err(|e| Error::Internal(e.to_string()))?;
            let mesh = resource.mesh().unwrap_or_default();
            let existing: Option<(String, i64)> = sqlx::query_as(
                "SELECT manifest, deleted FROM local_dataplanes WHERE mesh = ?1 AND name = ?2",
            )
            .bind(mesh)
            .bind(resource.name())
            .fetch_optional(&mut *transaction)
            .await?;
            if let Some((stored, 0)) = &existing
                && *stored == manifest
            {
                let current = match latest {
                    Some(revision) => revision,
                    None => current_revision(&mut transaction).await?,
                };
                revisions.push(current);
                continue;
            }
            let revision = next_revision(&mut transaction).await?;
            latest = Some(revision);
            sqlx::query(
                "INSERT INTO local_dataplanes (mesh, name, revision, deleted, manifest) VALUES (?1, ?2, ?3, 0, ?4)
                 ON CONFLICT (mesh, name) DO UPDATE SET revision = excluded.revision, deleted = 0, manifest = excluded.manifest",
            )
            .bind(mesh)
            .bind(resource.name())
            .bind(to_i64(revision))
            .bind(&manifest)
            .execute(&mut *transaction)
            .await?;
            revisions.push(revision);
        }
        if latest.is_some() {
            transaction.commit().await?;
        } else {
            transaction.rollback().await?;
        }
        Ok(revisions)
    }

    /// Deregisters a dataplane, leaving a tombstone; `None` when it was not registered.
    pub async fn delete_local(&self, mesh: &str, name: &str) -> Result<Option<u64>> {
        let mut transaction = self.pool.begin().await?;
        let revision = next_revision(&mut transaction).await?;
        let updated = sqlx::query(
            "UPDATE local_dataplanes SET deleted = 1, revision = ?1, manifest = '', deleted_at = ?4 WHERE mesh = ?2 AND name = ?3 AND deleted = 0",
        )
        .bind(to_i64(revision))
        .bind(mesh)
        .bind(name)
        .bind(jiff::Timestamp::now().as_second())
        .execute(&mut *transaction)
        .await?;
        if updated.rows_affected() == 0 {
            transaction.rollback().await?;
            return Ok(None);
        }
        transaction.commit().await?;
        Ok(Some(revision))
    }

    /// Removes the tombstones made before `before` (Unix seconds) and moves the compaction
    /// point past them; returns how many went. A global that has not seen changes up to the
    /// compaction point gets a snapshot instead ([`ZoneStore::local_compacted`]).
    pub async fn compact_local(&self, before: i64) -> Result<u64> {
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        let newest: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(revision) FROM local_dataplanes WHERE deleted = 1 AND deleted_at < ?1",
        )
        .bind(before)
        .fetch_one(&mut *transaction)
        .await?;
        let Some(newest) = newest else {
            transaction.rollback().await?;
            return Ok(0);
        };
        let removed =
            sqlx::query("DELETE FROM local_dataplanes WHERE deleted = 1 AND deleted_at < ?1")
                .bind(before)
                .execute(&mut *transaction)
                .await?
                .rows_affected();
        let point = to_u64(newest).max(local_compacted(&mut transaction).await?);
        set_meta(&mut transaction, "local_compacted", &point.to_string()).await?;
        transaction.commit().await?;
        Ok(removed)
    }

    /// The newest local revision whose tombstones may be gone: a reader behind it needs a
    /// snapshot.
    pub async fn local_compacted(&self) -> Result<u64> {
        Ok(meta(&self.pool, "local_compacted")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    pub async fn local_revision(&self) -> Result<u64> {
        Ok(meta(&self.pool, "zone_revision")
            .await?
            .and_then(|v| v.parse().ok())
            .unwrap_or(0))
    }

    /// Local dataplane changes after `after` (tombstones included), oldest first; with
    /// `after == 0`, only live dataplanes (a snapshot).
    pub async fn local_changes(&self, after: u64) -> Result<Vec<LocalChange>> {
        let rows = sqlx::query(
            "SELECT mesh, name, revision, deleted, manifest FROM local_dataplanes
             WHERE revision > ?1 AND (?1 > 0 OR deleted = 0) ORDER BY revision",
        )
        .bind(to_i64(after))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                let deleted: i64 = row.try_get("deleted")?;
                Ok(LocalChange {
                    mesh: row.try_get("mesh")?,
                    name: row.try_get("name")?,
                    revision: to_u64(row.try_get("revision")?),
                    manifest: (deleted == 0)
                        .then(|| row.try_get("manifest"))
                        .transpose()?,
                })
            })
            .collect()
    }

    /// Live local dataplanes, parsed.
    pub async fn local_dataplanes(&self) -> Result<Vec<Resource>> {
        let mut out = Vec::new();
        for change in self.local_changes(0).await? {
            let Some(manifest) = change.manifest else {
                continue;
            };
            match serde_json::from_str(&manifest)
                .map_err(|error| error.to_string())
                .and_then(|value| {
                    Resource::from_value(value, Author::Zone).map_err(|errors| errors.to_string())
                }) {
                Ok(resource) => out.push(resource),
                Err(error) => {
                    tracing::warn!(name = %change.name, %error, "skipping unreadable local dataplane")
                }
            }
        }
        Ok(out)
    }
}

impl ZoneStore {
    /// Global's token-checking keys and revocations, as last received (JSON).
    pub async fn credentials(&self) -> Result<Option<String>> {
        meta(&self.pool, "credentials").await
    }

    /// The zone's intermediate CA of each mesh (JSON), by mesh.
    pub async fn mesh_cas(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key, value FROM zone_meta WHERE key LIKE 'ca/%'")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("key")?;
                Ok((
                    key.trim_start_matches("ca/").to_string(),
                    row.try_get("value")?,
                ))
            })
            .collect()
    }

    pub async fn set_mesh_ca(&self, mesh: &str, json: &str) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        set_meta(&mut transaction, &format!("ca/{mesh}"), json).await?;
        transaction.commit().await?;
        Ok(())
    }

    /// Every mesh's trust as global last sent it: (mesh, JSON).
    pub async fn mesh_trusts(&self) -> Result<Vec<(String, String)>> {
        let rows = sqlx::query("SELECT key, value FROM zone_meta WHERE key LIKE 'trust/%'")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|row| {
                let key: String = row.try_get("key")?;
                Ok((
                    key.trim_start_matches("trust/").to_string(),
                    row.try_get("value")?,
                ))
            })
            .collect()
    }

    pub async fn set_mesh_trust(&self, mesh: &str, json: &str) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        set_meta(&mut transaction, &format!("trust/{mesh}"), json).await?;
        transaction.commit().await?;
        Ok(())
    }

    pub async fn set_credentials(&self, json: &str) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        set_meta(&mut transaction, "credentials", json).await?;
        transaction.commit().await?;
        Ok(())
    }
}

async fn meta(pool: &SqlitePool, key: &str) -> Result<Option<String>> {
    let row = sqlx::query("SELECT value FROM zone_meta WHERE key = ?1")
        .bind(key)
        .fetch_optional(pool)
        .await?;
    Ok(row.map(|row| row.try_get("value")).transpose()?)
}

async fn set_meta(
    transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>,
    key: &str,
    value: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO zone_meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .bind(key)
        .bind(value)
        .execute(&mut **transaction)
        .await?;
    Ok(())
}

/// The local compaction point as this transaction sees it.
async fn local_compacted(transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>) -> Result<u64> {
    let value: Option<String> =
        sqlx::query_scalar("SELECT value FROM zone_meta WHERE key = 'local_compacted'")
            .fetch_optional(&mut **transaction)
            .await?;
    Ok(value.and_then(|value| value.parse().ok()).unwrap_or(0))
}

/// The local revision as this transaction sees it.
async fn current_revision(transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>) -> Result<u64> {
    let value: Option<String> =
        sqlx::query_scalar("SELECT value FROM zone_meta WHERE key = 'zone_revision'")
            .fetch_optional(&mut **transaction)
            .await?;
    Ok(value.and_then(|value| value.parse().ok()).unwrap_or(0))
}

/// Takes the next local revision; the first write of every local write transaction.
async fn next_revision(transaction: &mut sqlx::Transaction<'_, sqlx::Sqlite>) -> Result<u64> {
    sqlx::query(
        "INSERT INTO zone_meta (key, value) VALUES ('zone_revision', '1')
                 ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)",
    )
    .execute(&mut **transaction)
    .await?;
    let value: String = sqlx::query("SELECT value FROM zone_meta WHERE key = 'zone_revision'")
        .fetch_one(&mut **transaction)
        .await?
        .try_get("value")?;
    value
        .parse()
        .map_err(|_| Error::Internal(format!("corrupt zone revision {value:?}")))
}
