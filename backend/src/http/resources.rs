//! Generic REST for every kind in the registry: meshes at /api/v1/meshes, mesh-scoped kinds at
//! /api/v1/meshes/{mesh}/{plural}. PUT creates or replaces; a stale resourceVersion gets 409.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use weft_api::inventory::ResourceList;
use weft_model::kind::Origin;
use weft_model::manifest::{Manifest, parse_documents};
use weft_model::resource::{Author, Resource};
use weft_model::{FieldError, Kind, ValidationErrors};

use super::AppState;
use super::body::read_text;
use crate::error::{Error, Result};

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

async fn put_resource(
    state: &AppState,
    kind: Kind,
    mesh: Option<&str>,
    name: &str,
    body: Body,
) -> Result<Response> {
    if kind.origin() == Origin::Zone {
        return Err(Error::MethodNotAllowed(format!(
            "{} are registered by zone control planes and cannot be written through the global API",
            kind.plural()
        )));
    }
    let text = read_text(body).await?;
    let resource = parse_body(&text, kind, mesh, name)?;
    if let Some(mesh) = mesh {
        require_mesh(state, mesh).await?;
    }
    let expected = resource
        .metadata
        .resource_version
        .as_deref()
        .and_then(|version| version.parse::<u64>().ok());
    let (stored, created) = state.store.put(&resource, expected).await?;
    tracing::info!(kind = %kind, mesh = mesh.unwrap_or(""), name, revision = stored.revision, created, "resource written");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored.to_manifest())).into_response())
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
    tracing::info!(kind = %kind, mesh, name, "resource deleted");
    Ok(StatusCode::NO_CONTENT)
}

fn list_response(items: Vec<Manifest>) -> Json<ResourceList> {
    let total = items.len();
    Json(ResourceList { items, total })
}

pub async fn list_meshes(State(state): State<AppState>) -> Result<Json<ResourceList>> {
    let rows = state.store.list(Kind::Mesh, None).await?;
    Ok(list_response(
        rows.iter().map(|row| row.to_manifest()).collect(),
    ))
}

pub async fn get_mesh(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
) -> Result<Json<Manifest>> {
    let row = state.store.get(Kind::Mesh, "", &mesh).await?;
    row.map(|row| Json(row.to_manifest()))
        .ok_or_else(|| Error::NotFound(format!("mesh {mesh:?}")))
}

pub async fn put_mesh(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
    body: Body,
) -> Result<Response> {
    put_resource(&state, Kind::Mesh, None, &mesh, body).await
}

pub async fn delete_mesh(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<StatusCode> {
    delete_resource(&state, Kind::Mesh, "", &mesh, &query).await
}

pub async fn list(
    State(state): State<AppState>,
    Path((mesh, plural)): Path<(String, String)>,
) -> Result<Json<ResourceList>> {
    let kind = mesh_scoped_kind(&plural)?;
    require_mesh(&state, &mesh).await?;
    let rows = state.store.list(kind, Some(&mesh)).await?;
    Ok(list_response(
        rows.iter().map(|row| row.to_manifest()).collect(),
    ))
}

pub async fn get(
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
