//! Resources: versioned writes with optimistic concurrency, tombstones, and the change feed.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;
use sqlx::Row;
use sqlx::any::AnyRow;
use weft_model::manifest::{API_VERSION, Manifest, Metadata};
use weft_model::resource::{Author, Resource};
use weft_model::{Kind, dataplane::ZONE_LABEL};

use super::audit::{Actor, AuditEntry, record};
use super::{Store, next_revision, now_millis};
use crate::error::{Error, Result};

/// `SELECT <columns> FROM resources <rest>` as a static string.
macro_rules! select {
    ($rest:literal) => {
        concat!(
            "SELECT kind, mesh, name, zone, revision, deleted, labels, spec, created_at, updated_at FROM resources ",
            $rest
        )
    };
}

/// A row of the resources table.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredResource {
    pub kind: Kind,
    pub mesh: String,
    pub name: String,
    /// Registering zone; empty when written through the API.
    pub zone: String,
    pub revision: u64,
    pub deleted: bool,
    pub labels: BTreeMap<String, String>,
    pub spec: Value,
    pub created_at: i64,
    pub updated_at: i64,
}

/// What a write did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
}

/// One change a zone reports about its own dataplanes.
#[derive(Clone, Debug)]
pub enum ZoneChange {
    Upsert(Box<Resource>),
    Delete { mesh: String, name: String },
}

fn timestamp(millis: i64) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|ts| ts.to_string())
        .unwrap_or_default()
}

impl StoredResource {
    fn from_row(row: &AnyRow) -> Result<Option<StoredResource>> {
        let kind_name: String = row.try_get("kind")?;
        let Some(kind) = Kind::parse(&kind_name) else {
            tracing::warn!(kind = %kind_name, "skipping a stored resource of an unknown kind");
            return Ok(None);
        };
        let labels: String = row.try_get("labels")?;
        let spec: String = row.try_get("spec")?;
        let revision: i64 = row.try_get("revision")?;
        Ok(Some(StoredResource {
            kind,
            mesh: row.try_get("mesh")?,
            name: row.try_get("name")?,
            zone: row.try_get("zone")?,
            revision: u64::try_from(revision).unwrap_or(0),
            deleted: row.try_get::<i64, _>("deleted")? != 0,
            labels: serde_json::from_str(&labels)
                .map_err(|e| Error::Internal(format!("stored labels: {e}")))?,
            spec: serde_json::from_str(&spec)
                .map_err(|e| Error::Internal(format!("stored spec: {e}")))?,
            created_at: row.try_get("created_at")?,
            updated_at: row.try_get("updated_at")?,
        }))
    }

    /// The manifest as the API shows it, server-owned fields filled in.
    pub fn to_manifest(&self) -> Manifest {
        Manifest {
            api_version: API_VERSION.to_string(),
            kind: self.kind.name().to_string(),
            metadata: Metadata {
                name: self.name.clone(),
                mesh: (!self.mesh.is_empty()).then(|| self.mesh.clone()),
                labels: self.labels.clone(),
                resource_version: Some(self.revision.to_string()),
                creation_time: Some(timestamp(self.created_at)),
                modification_time: Some(timestamp(self.updated_at)),
            },
            spec: self.spec.clone(),
            status: None,
        }
    }

    /// The typed resource; stored specs were validated on write.
    pub fn to_resource(&self) -> Result<Resource> {
        let mut manifest = self.to_manifest();
        manifest.metadata.creation_time = None;
        manifest.metadata.modification_time = None;
        Resource::from_manifest(manifest, Author::Zone).map_err(|errors| {
            Error::Internal(format!(
                "stored {} {} is invalid: {errors}",
                self.kind, self.name
            ))
        })
    }
}

pub(super) fn collect(rows: Vec<AnyRow>) -> Result<Vec<StoredResource>> {
    let mut out = Vec::with_capacity(rows.len());
    for row in &rows {
        if let Some(resource) = StoredResource::from_row(row)? {
            out.push(resource);
        }
    }
    Ok(out)
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

type Transaction<'a> = sqlx::Transaction<'a, sqlx::Any>;

async fn fetch(
    transaction: &mut Transaction<'_>,
    kind: Kind,
    mesh: &str,
    name: &str,
) -> Result<Option<StoredResource>> {
    let row = sqlx::query(select!("WHERE kind = $1 AND mesh = $2 AND name = $3"))
        .bind(kind.name())
        .bind(mesh)
        .bind(name)
        .fetch_optional(&mut **transaction)
        .await?;
    match row {
        Some(row) => StoredResource::from_row(&row),
        None => Ok(None),
    }
}

/// Writes `resource` at a fresh revision, unless it is unchanged. Returns the row and whether it was created.
async fn write(
    transaction: &mut Transaction<'_>,
    resource: &Resource,
    zone: &str,
    revision: u64,
    existing: Option<&StoredResource>,
) -> Result<StoredResource> {
    let now = now_millis();
    let created_at = existing
        .filter(|row| !row.deleted)
        .map_or(now, |row| row.created_at);
    let labels = serde_json::to_string(&resource.metadata.labels)
        .map_err(|e| Error::Internal(e.to_string()))?;
    let spec = resource.spec.to_value();
    let spec_text = serde_json::to_string(&spec).map_err(|e| Error::Internal(e.to_string()))?;
    let mesh = resource.mesh().unwrap_or_default();
    sqlx::query(
        "INSERT INTO resources (kind, mesh, name, zone, revision, deleted, labels, spec, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 0, $6, $7, $8, $9)
         ON CONFLICT (kind, mesh, name) DO UPDATE SET
           zone = excluded.zone, revision = excluded.revision, deleted = 0, labels = excluded.labels,
           spec = excluded.spec, created_at = excluded.created_at, updated_at = excluded.updated_at",
    )
    .bind(resource.kind().name())
    .bind(mesh)
    .bind(resource.name())
    .bind(zone)
    .bind(to_i64(revision))
    .bind(labels)
    .bind(spec_text)
    .bind(created_at)
    .bind(now)
    .execute(&mut **transaction)
    .await?;
    Ok(StoredResource {
        kind: resource.kind(),
        mesh: mesh.to_string(),
        name: resource.name().to_string(),
        zone: zone.to_string(),
        revision,
        deleted: false,
        labels: resource.metadata.labels.clone(),
        spec,
        created_at,
        updated_at: now,
    })
}

/// Replaces the spec of a live row at `revision` (server-side edits such as a user leaving a
/// tenant).
pub(super) async fn write_spec(
    transaction: &mut Transaction<'_>,
    row: &StoredResource,
    spec: Value,
    revision: u64,
) -> Result<()> {
    let spec = serde_json::to_string(&spec).map_err(|e| Error::Internal(e.to_string()))?;
    sqlx::query(
        "UPDATE resources SET spec = $1, revision = $2, updated_at = $3
         WHERE kind = $4 AND mesh = $5 AND name = $6",
    )
    .bind(spec)
    .bind(to_i64(revision))
    .bind(now_millis())
    .bind(row.kind.name())
    .bind(&row.mesh)
    .bind(&row.name)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

async fn tombstone(
    transaction: &mut Transaction<'_>,
    row: &StoredResource,
    revision: u64,
) -> Result<()> {
    sqlx::query(
        "UPDATE resources SET deleted = 1, revision = $1, updated_at = $2, spec = '{}', labels = '{}'
         WHERE kind = $3 AND mesh = $4 AND name = $5",
    )
    .bind(to_i64(revision))
    .bind(now_millis())
    .bind(row.kind.name())
    .bind(&row.mesh)
    .bind(&row.name)
    .execute(&mut **transaction)
    .await?;
    Ok(())
}

fn unchanged(existing: Option<&StoredResource>, resource: &Resource, zone: &str) -> bool {
    existing.is_some_and(|row| {
        !row.deleted
            && row.zone == zone
            && row.labels == resource.metadata.labels
            && row.spec == resource.spec.to_value()
    })
}

fn check_precondition(
    existing: Option<&StoredResource>,
    expected: Option<u64>,
    what: &str,
) -> Result<()> {
    let Some(expected) = expected else {
        return Ok(());
    };
    match existing.filter(|row| !row.deleted) {
        Some(row) if row.revision == expected => Ok(()),
        Some(row) => Err(Error::Conflict(format!(
            "{what} was changed by someone else: resourceVersion {expected} is stale, the current one is {}; read it again and retry",
            row.revision
        ))),
        None => Err(Error::Conflict(format!(
            "{what} does not exist any more, so resourceVersion {expected} is stale"
        ))),
    }
}

impl Store {
    pub async fn get(&self, kind: Kind, mesh: &str, name: &str) -> Result<Option<StoredResource>> {
        let row = sqlx::query(select!(
            "WHERE kind = $1 AND mesh = $2 AND name = $3 AND deleted = 0"
        ))
        .bind(kind.name())
        .bind(mesh)
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            Some(row) => StoredResource::from_row(&row),
            None => Ok(None),
        }
    }

    /// Live resources of `kind`, in `mesh` when given, ordered by name.
    pub async fn list(&self, kind: Kind, mesh: Option<&str>) -> Result<Vec<StoredResource>> {
        let rows = match mesh {
            Some(mesh) => {
                sqlx::query(select!(
                    "WHERE kind = $1 AND mesh = $2 AND deleted = 0 ORDER BY name"
                ))
                .bind(kind.name())
                .bind(mesh)
                .fetch_all(&self.pool)
                .await?
            }
            None => {
                sqlx::query(select!(
                    "WHERE kind = $1 AND deleted = 0 ORDER BY mesh, name"
                ))
                .bind(kind.name())
                .fetch_all(&self.pool)
                .await?
            }
        };
        collect(rows)
    }

    /// Creates or replaces a resource written through the API. With `expected`, the write only
    /// happens when the stored resourceVersion equals it (409 otherwise). Returns the stored row
    /// and whether it was created. Writing identical content changes nothing.
    pub async fn put(
        &self,
        resource: &Resource,
        expected: Option<u64>,
        actor: &Actor,
    ) -> Result<(StoredResource, bool)> {
        let mut results = self
            .apply(std::slice::from_ref(&(resource.clone(), expected)), actor)
            .await?;
        let (row, outcome) = results
            .pop()
            .ok_or_else(|| Error::Internal("apply returned nothing".into()))?;
        Ok((row, outcome == Outcome::Created))
    }

    /// Writes every resource or none, in one transaction. Each may carry an expected
    /// resourceVersion; mesh-scoped resources need their mesh, stored or in the same batch.
    /// Each write that changes something is recorded in the audit log as done by `actor`.
    pub async fn apply(
        &self,
        writes: &[(Resource, Option<u64>)],
        actor: &Actor,
    ) -> Result<Vec<(StoredResource, Outcome)>> {
        let mut transaction = self.pool.begin().await?;
        let mut revision = next_revision(&mut transaction).await?;
        let mut last_written = 0;
        let mut results: Vec<Option<(StoredResource, Outcome)>> = vec![None; writes.len()];
        // Global-scoped kinds first, so a mesh created in this batch exists for the rest.
        let mut order: Vec<usize> = (0..writes.len()).collect();
        order.sort_by_key(|position| writes[*position].0.kind().is_mesh_scoped());
        for position in order {
            let (resource, expected) = &writes[position];
            let mesh = resource.mesh().unwrap_or_default();
            let what = format!("{} {:?}", resource.kind(), resource.name());
            let existing = fetch(&mut transaction, resource.kind(), mesh, resource.name()).await?;
            check_precondition(existing.as_ref(), *expected, &what)?;
            let tenant = match resource.kind() {
                Kind::Tenant => resource.name().to_string(),
                Kind::Mesh => tenant_of(&resource.spec.to_value()),
                _ if resource.kind().is_mesh_scoped() => {
                    let owner = fetch(&mut transaction, Kind::Mesh, "", mesh).await?;
                    match owner.filter(|row| !row.deleted) {
                        Some(owner) => tenant_of(&owner.spec),
                        None => return Err(Error::NotFound(format!("mesh {mesh:?}"))),
                    }
                }
                _ => String::new(),
            };
            if unchanged(existing.as_ref(), resource, "") {
                let row =
                    existing.ok_or_else(|| Error::Internal("unchanged row vanished".into()))?;
                results[position] = Some((row, Outcome::Unchanged));
                continue;
            }
            let outcome = if existing.as_ref().is_none_or(|row| row.deleted) {
                Outcome::Created
            } else {
                Outcome::Configured
            };
            let row = write(&mut transaction, resource, "", revision, existing.as_ref()).await?;
            let before = existing.filter(|row| !row.deleted).map(|row| row.revision);
            let entry = AuditEntry {
                action: if before.is_some() { "update" } else { "create" }.into(),
                tenant,
                mesh: mesh.to_string(),
                kind: resource.kind().name().into(),
                name: resource.name().into(),
                before_version: before,
                after_version: Some(revision),
            };
            record(&mut transaction, actor, &entry).await?;
            last_written = revision;
            revision = next_revision(&mut transaction).await?;
            results[position] = Some((row, outcome));
        }
        // The counter ran one ahead of the last write; give that value back.
        sqlx::query("UPDATE revision_counter SET value = value - 1 WHERE id = 1")
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        if last_written > 0 {
            self.published(last_written);
        }
        results
            .into_iter()
            .map(|result| {
                result.ok_or_else(|| Error::Internal("a write of the batch has no result".into()))
            })
            .collect()
    }

    /// Deletes a resource, leaving a tombstone. Deleting a Mesh deletes its policies too and
    /// is refused while dataplanes are registered in it.
    pub async fn delete(
        &self,
        kind: Kind,
        mesh: &str,
        name: &str,
        expected: Option<u64>,
        actor: &Actor,
    ) -> Result<()> {
        let what = format!("{kind} {name:?}");
        let mut transaction = self.pool.begin().await?;
        let mut revision = next_revision(&mut transaction).await?;
        let existing = fetch(&mut transaction, kind, mesh, name)
            .await?
            .filter(|row| !row.deleted);
        let Some(existing) = existing else {
            return Err(Error::NotFound(what));
        };
        check_precondition(Some(&existing), expected, &what)?;
        if kind == Kind::Zone {
            let online: Option<i64> = sqlx::query("SELECT online FROM zones WHERE name = $1")
                .bind(name)
                .fetch_optional(&mut *transaction)
                .await?
                .map(|row| row.try_get("online"))
                .transpose()?;
            if online == Some(1) {
                return Err(Error::Conflict(format!(
                    "zone {name:?} is connected; stop its control plane (or disable it with spec.enabled: false) first"
                )));
            }
            // The zone's dataplanes go with it, and its sync position is forgotten.
            let rows = sqlx::query(select!(
                "WHERE kind = 'Dataplane' AND zone = $1 AND deleted = 0"
            ))
            .bind(name)
            .fetch_all(&mut *transaction)
            .await?;
            for row in collect(rows)? {
                tombstone(&mut transaction, &row, revision).await?;
                revision = next_revision(&mut transaction).await?;
            }
            sqlx::query("DELETE FROM zones WHERE name = $1")
                .bind(name)
                .execute(&mut *transaction)
                .await?;
        }
        if kind == Kind::Mesh {
            let dataplanes: i64 = sqlx::query(
                "SELECT COUNT(*) AS count FROM resources WHERE kind = 'Dataplane' AND mesh = $1 AND deleted = 0",
            )
            .bind(name)
            .fetch_one(&mut *transaction)
            .await?
            .try_get("count")?;
            if dataplanes > 0 {
                return Err(Error::Conflict(format!(
                    "mesh {name:?} still has {dataplanes} registered dataplanes; stop them before deleting the mesh"
                )));
            }
            let rows = sqlx::query(select!("WHERE mesh = $1 AND deleted = 0"))
                .bind(name)
                .fetch_all(&mut *transaction)
                .await?;
            for row in collect(rows)? {
                tombstone(&mut transaction, &row, revision).await?;
                revision = next_revision(&mut transaction).await?;
            }
        }
        tombstone(&mut transaction, &existing, revision).await?;
        let tenant = match kind {
            Kind::Tenant => name.to_string(),
            Kind::Mesh => tenant_of(&existing.spec),
            _ if kind.is_mesh_scoped() => fetch(&mut transaction, Kind::Mesh, "", mesh)
                .await?
                .map(|row| tenant_of(&row.spec))
                .unwrap_or_default(),
            _ => String::new(),
        };
        let entry = AuditEntry {
            action: "delete".into(),
            tenant,
            mesh: mesh.to_string(),
            kind: kind.name().into(),
            name: name.into(),
            before_version: Some(existing.revision),
            after_version: None,
        };
        record(&mut transaction, actor, &entry).await?;
        transaction.commit().await?;
        self.published(revision);
        Ok(())
    }

    /// Every live resource of `mesh`: its Mesh resource and everything scoped to it.
    pub async fn mesh_resources(&self, mesh: &str) -> Result<Vec<StoredResource>> {
        let rows = sqlx::query(select!(
            "WHERE deleted = 0 AND (mesh = $1 OR (kind = 'Mesh' AND name = $1)) ORDER BY kind, name"
        ))
        .bind(mesh)
        .fetch_all(&self.pool)
        .await?;
        collect(rows)
    }

    /// Every row (tombstones included) changed after `after`, in revision order, at most `limit`.
    pub async fn changes_since(&self, after: u64, limit: u32) -> Result<Vec<StoredResource>> {
        let rows = sqlx::query(select!("WHERE revision > $1 ORDER BY revision LIMIT $2"))
            .bind(to_i64(after))
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        collect(rows)
    }

    /// The services each mesh's dataplanes of `zone` serve: mesh → services.
    pub async fn zone_services(
        &self,
        zone: &str,
    ) -> Result<std::collections::HashMap<String, std::collections::HashSet<String>>> {
        let rows = sqlx::query(select!(
            "WHERE kind = 'Dataplane' AND zone = $1 AND deleted = 0"
        ))
        .bind(zone)
        .fetch_all(&self.pool)
        .await?;
        let mut services: std::collections::HashMap<String, std::collections::HashSet<String>> =
            Default::default();
        for row in collect(rows)? {
            if let Ok(resource) = row.to_resource()
                && let weft_model::Spec::Dataplane(spec) = &resource.spec
            {
                services
                    .entry(row.mesh.clone())
                    .or_default()
                    .extend(spec.services().map(str::to_string));
            }
        }
        Ok(services)
    }

    /// Every live row, for snapshots.
    pub async fn live(&self) -> Result<Vec<StoredResource>> {
        let rows = sqlx::query(select!("WHERE deleted = 0 ORDER BY revision"))
            .fetch_all(&self.pool)
            .await?;
        collect(rows)
    }

    /// Applies a zone's dataplane changes in one transaction and records how far the zone got.
    /// With `replace`, the zone's dataplanes not upserted here are deleted (end of a snapshot).
    /// A dataplane whose name is taken in its mesh by another zone is skipped with a warning.
    pub async fn apply_zone_changes(
        &self,
        zone: &str,
        changes: &[ZoneChange],
        replace: bool,
        zone_revision: u64,
    ) -> Result<()> {
        let mut transaction = self.pool.begin().await?;
        let mut revision = next_revision(&mut transaction).await?;
        let mut latest = 0;
        let mut kept: BTreeSet<(String, String)> = BTreeSet::new();
        for change in changes {
            match change {
                ZoneChange::Upsert(resource) => {
                    let mesh = resource.mesh().unwrap_or_default();
                    kept.insert((mesh.to_string(), resource.name().to_string()));
                    let existing =
                        fetch(&mut transaction, Kind::Dataplane, mesh, resource.name()).await?;
                    if let Some(row) = existing
                        .as_ref()
                        .filter(|row| !row.deleted && row.zone != zone)
                    {
                        tracing::warn!(zone, mesh, name = resource.name(), owner = %row.zone,
                            "dataplane name already registered by another zone; ignoring");
                        continue;
                    }
                    if unchanged(existing.as_ref(), resource, zone) {
                        continue;
                    }
                    write(
                        &mut transaction,
                        resource,
                        zone,
                        revision,
                        existing.as_ref(),
                    )
                    .await?;
                    latest = revision;
                    revision = next_revision(&mut transaction).await?;
                }
                ZoneChange::Delete { mesh, name } => {
                    let existing = fetch(&mut transaction, Kind::Dataplane, mesh, name).await?;
                    if let Some(row) = existing.filter(|row| !row.deleted && row.zone == zone) {
                        tombstone(&mut transaction, &row, revision).await?;
                        latest = revision;
                        revision = next_revision(&mut transaction).await?;
                    }
                }
            }
        }
        if replace {
            let rows = sqlx::query(select!(
                "WHERE kind = 'Dataplane' AND zone = $1 AND deleted = 0"
            ))
            .bind(zone)
            .fetch_all(&mut *transaction)
            .await?;
            for row in collect(rows)? {
                if !kept.contains(&(row.mesh.clone(), row.name.clone())) {
                    tombstone(&mut transaction, &row, revision).await?;
                    latest = revision;
                    revision = next_revision(&mut transaction).await?;
                }
            }
        }
        // The counter ran one ahead of the last write; give that value back so no revision
        // is skipped. Readers only ever see committed rows, so this is safe.
        sqlx::query("UPDATE revision_counter SET value = value - 1 WHERE id = 1")
            .execute(&mut *transaction)
            .await?;
        sqlx::query("UPDATE zones SET zone_revision = $1 WHERE name = $2")
            .bind(to_i64(zone_revision))
            .bind(zone)
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        if latest > 0 {
            self.published(latest);
        }
        Ok(())
    }
}

/// The tenant named by a Mesh spec ('' when none).
pub fn tenant_of(mesh_spec: &Value) -> String {
    mesh_spec
        .get("tenant")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// The zone label of a zone-registered resource, forced to the zone that sent it.
pub fn stamp_zone(resource: &mut Resource, zone: &str) {
    resource
        .metadata
        .labels
        .insert(ZONE_LABEL.to_string(), zone.to_string());
}
