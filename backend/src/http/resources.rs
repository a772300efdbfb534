//! Generic REST for every kind in the registry: global-scoped kinds at /api/v1/{plural},
//! mesh-scoped kinds at /api/v1/meshes/{mesh}/{plural}, and `POST /api/v1/apply` for
//! multi-document YAML, all or nothing. PUT creates or replaces; a stale resourceVersion gets 409.

use std::collections::{BTreeMap, HashMap};

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use serde_json::Value;
use weft_api::inventory::{ApplyItem, ApplyResponse, ResourceList};
use weft_model::kind::Origin;
use weft_model::manifest::{Manifest, parse_documents};
use weft_model::resource::{Author, Resource, parse_resources};
use weft_model::{FieldError, Kind, ValidationErrors};

use super::AppState;
use super::body::read_text;
use crate::error::{Error, Result};
use crate::store::{Outcome, StoredResource};

/// Resolves a URL collection name to a mesh-scoped kind.
fn mesh_scoped_kind(plural: &str) -> Result<Kind> {
    Kind::from_plural(plural)
        .filter(|kind| kind.is_mesh_scoped())
        .ok_or_else(|| Error::NotFound(format!("resource type {plural:?}")))
}

pub async fn require_mesh(state: &AppState, mesh: &str) -> Result<()> {
    match state.store.get(Kind::Mesh, "", mesh).await? {
        Some(_) => Ok(()),
        None => Err(Error::NotFound(format!("mesh {mesh:?}"))),
    }
}

fn expected_version(query: &HashMap<String, String>) -> Result<Option<u64>> {
    query
        .get("resourceVersion")
        .map(|value| {
            value.parse::<u64>().map_err(|_| {
                Error::BadRequest("query parameter resourceVersion must be a number".into())
            })
        })
        .transpose()
}

/// Parses a single-document body, filling `metadata.name` and `metadata.mesh` from the URL
/// when absent, and checks the URL and the manifest agree.
fn parse_body(text: &str, kind: Kind, mesh: Option<&str>, name: &str) -> Result<Resource> {
    let mut documents =
        parse_documents(text).map_err(|errors| Error::BadRequest(errors.to_string()))?;
    if documents.len() != 1 {
        return Err(Error::BadRequest(format!(
            "expected one document, got {}; use POST /api/v1/apply for several",
            documents.len()
        )));
    }
    let mut document = documents.remove(0);
    if let Value::Object(object) = &mut document {
        let metadata = object
            .entry("metadata")
            .or_insert_with(|| Value::Object(Default::default()));
        if let Value::Object(metadata) = metadata {
            metadata
                .entry("name")
                .or_insert_with(|| Value::String(name.to_string()));
            if let Some(mesh) = mesh {
                metadata
                    .entry("mesh")
                    .or_insert_with(|| Value::String(mesh.to_string()));
            }
        }
    }
    let resource = Resource::from_value(document, Author::User)?;
    let mut mismatches = Vec::new();
    if resource.kind() != kind {
        mismatches.push(FieldError {
            field: "kind".into(),
            message: format!("must be {kind} to match the URL"),
        });
    }
    if resource.name() != name {
        mismatches.push(FieldError {
            field: "metadata.name".into(),
            message: format!("must be {name:?} to match the URL"),
        });
    }
    if let Some(mesh) = mesh
        && resource.mesh() != Some(mesh)
    {
        mismatches.push(FieldError {
            field: "metadata.mesh".into(),
            message: format!("must be {mesh:?} to match the URL"),
        });
    }
    if !mismatches.is_empty() {
        return Err(Error::Validation(ValidationErrors(mismatches)));
    }
    Ok(resource)
}

fn zone_written_error(kind: Kind) -> Error {
    Error::MethodNotAllowed(format!(
        "{} are registered by zone control planes and cannot be written through the global API",
        kind.plural()
    ))
}

fn expected_of(resource: &Resource) -> Option<u64> {
    resource
        .metadata
        .resource_version
        .as_deref()
        .and_then(|version| version.parse::<u64>().ok())
}

async fn put_resource(
    state: &AppState,
    kind: Kind,
    mesh: Option<&str>,
    name: &str,
    body: Body,
) -> Result<Response> {
    if kind.origin() == Origin::Zone {
        return Err(zone_written_error(kind));
    }
    let text = read_text(body).await?;
    let mut resource = parse_body(&text, kind, mesh, name)?;
    let ca = state.cas.prepare(&mut resource, "").await?;
    let expected = expected_of(&resource);
    let (stored, created) = state.store.put(&resource, expected).await?;
    if let Some(ca) = ca {
        state.cas.reconcile(name, &ca).await?;
    }
    tracing::info!(kind = %kind, mesh = mesh.unwrap_or(""), name, revision = stored.revision, created, "resource written");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(with_status(state, stored.to_manifest()).await?),
    )
        .into_response())
}

async fn delete_resource(
    state: &AppState,
    kind: Kind,
    mesh: &str,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<StatusCode> {
    if kind.origin() == Origin::Zone {
        return Err(Error::MethodNotAllowed(format!(
            "{} are removed by their zone control plane when the proxy stops",
            kind.plural()
        )));
    }
    state
        .store
        .delete(kind, mesh, name, expected_version(query)?)
        .await?;
    if kind == Kind::Mesh {
        state.cas.forget_mesh(name).await?;
    }
    tracing::info!(kind = %kind, mesh, name, "resource deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Adds server-owned `status` where a kind has one (zones: their connection state).
async fn with_status(state: &AppState, manifest: Manifest) -> Result<Manifest> {
    Ok(with_statuses(state, vec![manifest])
        .await?
        .pop()
        .unwrap_or_default())
}

async fn with_statuses(state: &AppState, mut manifests: Vec<Manifest>) -> Result<Vec<Manifest>> {
    if manifests
        .iter()
        .any(|manifest| manifest.kind == Kind::Zone.name())
    {
        let zones: BTreeMap<String, crate::store::ZoneRow> = state
            .store
            .zones()
            .await?
            .into_iter()
            .map(|row| (row.name.clone(), row))
            .collect();
        for manifest in manifests
            .iter_mut()
            .filter(|manifest| manifest.kind == Kind::Zone.name())
        {
            let row = zones.get(&manifest.metadata.name);
            manifest.status = Some(serde_json::json!({
                "online": row.is_some_and(|row| row.online),
                "version": row.map(|row| row.version.clone()).filter(|v| !v.is_empty()),
                "lastSeen": row.and_then(|row| jiff::Timestamp::from_millisecond(row.last_seen).ok()).map(|ts| ts.to_string()),
                "dataplanes": row.map_or(0, |row| row.dataplanes),
            }));
        }
    }
    for manifest in manifests
        .iter_mut()
        .filter(|manifest| manifest.kind == Kind::Mesh.name())
    {
        if let Some(ca) = state.store.mesh_ca_state(&manifest.metadata.name).await? {
            manifest.status = Some(serde_json::json!({
                "ca": {"phase": ca.phase, "generation": ca.generation},
            }));
        }
    }
    Ok(manifests)
}

async fn list_response(state: &AppState, rows: &[StoredResource]) -> Result<Json<ResourceList>> {
    let items = with_statuses(
        state,
        rows.iter().map(StoredResource::to_manifest).collect(),
    )
    .await?;
    let total = items.len();
    Ok(Json(ResourceList { items, total }))
}

/// `GET/…/{plural}` for a global-scoped kind.
pub fn global_collection(kind: Kind) -> MethodRouter<AppState> {
    get(move |State(state): State<AppState>| async move {
        let rows = state.store.list(kind, None).await?;
        list_response(&state, &rows).await
    })
}

/// `GET/PUT/DELETE …/{plural}/{name}` for a global-scoped kind.
pub fn global_item(kind: Kind) -> MethodRouter<AppState> {
    get(
        move |State(state): State<AppState>, Path(name): Path<String>| async move {
            let row = state
                .store
                .get(kind, "", &name)
                .await?
                .ok_or_else(|| Error::NotFound(format!("{kind} {name:?}")))?;
            Ok::<_, Error>(Json(with_status(&state, row.to_manifest()).await?))
        },
    )
    .put(
        move |State(state): State<AppState>, Path(name): Path<String>, body: Body| async move {
            put_resource(&state, kind, None, &name, body).await
        },
    )
    .delete(
        move |State(state): State<AppState>,
              Path(name): Path<String>,
              Query(query): Query<HashMap<String, String>>| async move {
            delete_resource(&state, kind, "", &name, &query).await
        },
    )
}

pub async fn list(
    State(state): State<AppState>,
    Path((mesh, plural)): Path<(String, String)>,
) -> Result<Json<ResourceList>> {
    let kind = mesh_scoped_kind(&plural)?;
    require_mesh(&state, &mesh).await?;
    let rows = state.store.list(kind, Some(&mesh)).await?;
    list_response(&state, &rows).await
}

pub async fn get_one(
    State(state): State<AppState>,
    Path((mesh, plural, name)): Path<(String, String, String)>,
) -> Result<Json<Manifest>> {
    let kind = mesh_scoped_kind(&plural)?;
    require_mesh(&state, &mesh).await?;
    let row = state.store.get(kind, &mesh, &name).await?;
    row.map(|row| Json(row.to_manifest()))
        .ok_or_else(|| Error::NotFound(format!("{kind} {name:?}")))
}

pub async fn put(
    State(state): State<AppState>,
    Path((mesh, plural, name)): Path<(String, String, String)>,
    body: Body,
) -> Result<Response> {
    let kind = mesh_scoped_kind(&plural)?;
    put_resource(&state, kind, Some(&mesh), &name, body).await
}

pub async fn delete(
    State(state): State<AppState>,
    Path((mesh, plural, name)): Path<(String, String, String)>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<StatusCode> {
    let kind = mesh_scoped_kind(&plural)?;
    require_mesh(&state, &mesh).await?;
    delete_resource(&state, kind, &mesh, &name, &query).await
}

/// `POST /api/v1/apply`: every document or none. Errors name `documents[i]`.
pub async fn apply(State(state): State<AppState>, body: Body) -> Result<Json<ApplyResponse>> {
    let text = read_text(body).await?;
    // Syntax errors are 400; documents that parse but do not validate are 422.
    let documents =
        parse_documents(&text).map_err(|errors| Error::BadRequest(errors.to_string()))?;
    let resources = parse_resources(&text, Author::User)?;
    let mut problems = Vec::new();
    let mut seen: BTreeMap<(Kind, String, String), usize> = BTreeMap::new();
    for (position, resource) in resources.iter().enumerate() {
        let prefix = if documents.len() > 1 {
            format!("documents[{position}].")
        } else {
            String::new()
        };
        if resource.kind().origin() == Origin::Zone {
            problems.push(FieldError {
                field: format!("{prefix}kind"),
                message: format!("{} are registered by zones", resource.kind().plural()),
            });
        }
        let key = (
            resource.kind(),
            resource.mesh().unwrap_or_default().to_string(),
            resource.name().to_string(),
        );
        if let Some(first) = seen.insert(key, position) {
            problems.push(FieldError {
                field: format!("{prefix}metadata.name"),
                message: format!("duplicates documents[{first}]"),
            });
        }
    }
    if !problems.is_empty() {
        return Err(Error::Validation(ValidationErrors(problems)));
    }
    let mut writes: Vec<(Resource, Option<u64>)> = Vec::with_capacity(resources.len());
    let mut cas = Vec::new();
    for (position, mut resource) in resources.into_iter().enumerate() {
        let prefix = if documents.len() > 1 {
            format!("documents[{position}].")
        } else {
            String::new()
        };
        if let Some(ca) = state.cas.prepare(&mut resource, &prefix).await? {
            cas.push((resource.name().to_string(), ca));
        }
        let expected = expected_of(&resource);
        writes.push((resource, expected));
    }
    let results = state.store.apply(&writes).await?;
    for (mesh, ca) in &cas {
        state.cas.reconcile(mesh, ca).await?;
    }
    let items: Vec<ApplyItem> = results
        .iter()
        .map(|(row, outcome)| ApplyItem {
            kind: row.kind.name().to_string(),
            mesh: (!row.mesh.is_empty()).then(|| row.mesh.clone()),
            name: row.name.clone(),
            resource_version: row.revision.to_string(),
            result: match outcome {
                Outcome::Created => "created",
                Outcome::Configured => "configured",
                Outcome::Unchanged => "unchanged",
            }
            .to_string(),
        })
        .collect();
    tracing::info!(documents = items.len(), "manifests applied");
    Ok(Json(ApplyResponse { items }))
}
