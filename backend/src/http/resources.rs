//! Generic REST for every kind in the registry: global-scoped kinds at /api/v1/{plural},
//! mesh-scoped kinds at /api/v1/meshes/{mesh}/{plural}, and `POST /api/v1/apply` for
//! multi-document YAML, all or nothing. PUT creates or replaces; a stale resourceVersion gets 409.
//! Lists show only what the caller may see; writes are authorized per resource by
//! [`authorize_write`], which PUT and apply share.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use weft_api::inventory::{ApplyItem, ApplyResponse, ResourceList};
use weft_model::manifest::{Manifest, parse_documents};
use weft_model::resource::{Author, Resource, parse_resources};
use weft_model::tenant::Role;
use weft_model::{FieldError, Kind, Spec, ValidationErrors};

use super::AppState;
use super::body::read_text;
use super::list::ListQuery;
use crate::access::Caller;
use crate::error::{Error, Result};
use crate::store::{Outcome, StoredResource, tenant_of};

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

fn expected_of(resource: &Resource) -> Option<u64> {
    resource
        .metadata
        .resource_version
        .as_deref()
        .and_then(|version| version.parse::<u64>().ok())
}

/// What earlier documents of the same batch create.
#[derive(Default)]
pub struct Batch {
    /// Mesh name → its tenant.
    meshes: BTreeMap<String, String>,
    tenants: BTreeSet<String>,
}

/// May `caller` write `resource`? Fills in a mesh's tenant when the caller owns exactly one.
/// Tenants: owners change them, platform admins create them; members must be users, and
/// nobody but a platform admin leaves a tenant without an owner. Meshes: owners of the tenant
/// they name (and, when moving one, of the tenant it leaves). Policies: editors of the mesh's
/// tenant. Zones: platform admins. `prefix` names the document in errors of a batch.
pub async fn authorize_write(
    state: &AppState,
    caller: &Caller,
    resource: &mut Resource,
    batch: &Batch,
    prefix: &str,
) -> Result<()> {
    let kind = resource.kind();
    let name = resource.name().to_string();
    match &mut resource.spec {
        Spec::Tenant(spec) => {
            match state.store.get(Kind::Tenant, "", &name).await? {
                Some(_) => {
                    caller.require_role(&name, Role::Owner, &format!("tenant {name:?}"))?;
                }
                None => caller.require_admin()?,
            }
            let mut problems = Vec::new();
            for (position, member) in spec.members.iter().enumerate() {
                if state.store.user(&member.user).await?.is_none() {
                    problems.push(FieldError {
                        field: format!("{prefix}spec.members[{position}].user"),
                        message: format!("no user is named {:?}", member.user),
                    });
                }
            }
            let owners = spec
                .members
                .iter()
                .filter(|member| member.role == Some(Role::Owner))
                .count();
            if owners == 0 && !caller.platform_admin {
                problems.push(FieldError {
                    field: format!("{prefix}spec.members"),
                    message: "must keep at least one owner".into(),
                });
            }
            if !problems.is_empty() {
                return Err(Error::Validation(ValidationErrors(problems)));
            }
        }
        Spec::Mesh(spec) => {
            let existing = state.store.get(Kind::Mesh, "", &name).await?;
            if let Some(row) = &existing {
                caller.require_role(
                    &tenant_of(&row.spec),
                    Role::Owner,
                    &format!("mesh {name:?}"),
                )?;
            }
            let tenant = match (&spec.tenant, &existing) {
                (Some(tenant), _) => tenant.clone(),
                // Replacing a mesh without naming its tenant keeps the tenant it has.
                (None, Some(row)) if !tenant_of(&row.spec).is_empty() => tenant_of(&row.spec),
                (None, _) => default_tenant(caller).ok_or_else(|| {
                    Error::Validation(ValidationErrors::single(
                        format!("{prefix}spec.tenant"),
                        "is required: name the tenant that owns the mesh",
                    ))
                })?,
            };
            if caller.platform_admin {
                if !batch.tenants.contains(&tenant)
                    && state.store.get(Kind::Tenant, "", &tenant).await?.is_none()
                {
                    return Err(Error::Validation(ValidationErrors::single(
                        format!("{prefix}spec.tenant"),
                        format!("no tenant is named {tenant:?}"),
                    )));
                }
            } else if caller.role_in(&tenant) != Some(Role::Owner) {
                return Err(Error::Forbidden(
                    "spec.tenant: meshes can only be placed in tenants you own",
                ));
            }
            spec.tenant = Some(tenant);
        }
        _ if kind.is_mesh_scoped() => {
            let mesh = resource.mesh().unwrap_or_default().to_string();
            let tenant = match batch.meshes.get(&mesh) {
                Some(tenant) => tenant.clone(),
                None => crate::access::mesh_tenant(&state.store, &mesh).await?,
            };
            caller.require_role(&tenant, Role::Editor, &format!("mesh {mesh:?}"))?;
        }
        _ => caller.require_admin()?,
    }
    Ok(())
}

/// The tenant a new mesh goes to when it names none: the caller's only owned tenant.
fn default_tenant(caller: &Caller) -> Option<String> {
    let owned = caller.owned_tenants()?;
    match owned.as_slice() {
        [only] => Some(only.clone()),
        _ => None,
    }
}

async fn put_resource(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    mesh: Option<&str>,
    name: &str,
    body: Body,
) -> Result<Response> {
    let text = read_text(body).await?;
    let mut resource = parse_body(&text, kind, mesh, name)?;
    authorize_write(state, caller, &mut resource, &Batch::default(), "").await?;
    let ca = state.cas.prepare(&mut resource, "").await?;
    let expected = expected_of(&resource);
    let (stored, created) = state
        .store
        .put(&resource, expected, &caller.actor())
        .await?;
    if let Some(ca) = ca {
        state.cas.reconcile(name, &ca).await?;
    }
    tracing::info!(kind = %kind, mesh = mesh.unwrap_or(""), name, revision = stored.revision, created, user = %caller.user, "resource written");
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((
        status,
        Json(with_status(state, caller, stored.to_manifest()).await?),
    )
        .into_response())
}

async fn delete_resource(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    mesh: &str,
    name: &str,
    query: &HashMap<String, String>,
) -> Result<StatusCode> {
    if kind == Kind::Tenant {
        let meshes = state.store.list(Kind::Mesh, None).await?;
        if let Some(mesh) = meshes.iter().find(|row| tenant_of(&row.spec) == name) {
            return Err(Error::Conflict(format!(
                "tenant {name:?} still owns mesh {:?}; delete or move its meshes first",
                mesh.name
            )));
        }
    }
    state
        .store
        .delete(kind, mesh, name, expected_version(query)?, &caller.actor())
        .await?;
    if kind == Kind::Mesh {
        state.cas.forget_mesh(name).await?;
    }
    tracing::info!(kind = %kind, mesh, name, user = %caller.user, "resource deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// Adds server-owned `status` where a kind has one (zones: their connection state and the
/// dataplanes the caller may see; dataplanes: their session as their zone reports it;
/// rollouts: their progress; meshes: the CA's rotation phase).
async fn with_status(state: &AppState, caller: &Caller, manifest: Manifest) -> Result<Manifest> {
    Ok(with_statuses(state, caller, vec![manifest])
        .await?
        .pop()
        .unwrap_or_default())
}

pub(super) async fn with_statuses(
    state: &AppState,
    caller: &Caller,
    mut manifests: Vec<Manifest>,
) -> Result<Vec<Manifest>> {
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
        let visible = visible_meshes(state, caller).await?;
        for manifest in manifests
            .iter_mut()
            .filter(|manifest| manifest.kind == Kind::Zone.name())
        {
            let row = zones.get(&manifest.metadata.name);
            let dataplanes: usize = row.map_or(0, |row| {
                row.dataplanes
                    .iter()
                    .filter(|(mesh, _)| visible.as_ref().is_none_or(|set| set.contains(*mesh)))
                    .map(|(_, count)| count)
                    .sum()
            });
            manifest.status = Some(serde_json::json!({
                "online": row.is_some_and(|row| row.online),
                "version": row.map(|row| row.version.clone()).filter(|v| !v.is_empty()),
                "lastSeen": row.and_then(|row| jiff::Timestamp::from_millisecond(row.last_seen).ok()).map(|ts| ts.to_string()),
                "dataplanes": dataplanes,
            }));
        }
    }
    for manifest in manifests
        .iter_mut()
        .filter(|manifest| manifest.kind == Kind::Rollout.name())
    {
        let mesh = manifest.metadata.mesh.clone().unwrap_or_default();
        let generation = manifest
            .metadata
            .resource_version
            .as_deref()
            .and_then(|version| version.parse().ok())
            .unwrap_or(0);
        let status =
            super::rollouts::status(state, &mesh, &manifest.metadata.name, generation).await?;
        manifest.status = serde_json::to_value(status).ok();
    }
    // A dataplane's session as the zone that registered it last reported (while connected).
    for manifest in manifests
        .iter_mut()
        .filter(|manifest| manifest.kind == Kind::Dataplane.name())
    {
        let mesh = manifest.metadata.mesh.as_deref().unwrap_or_default();
        let insight = manifest
            .metadata
            .labels
            .get(weft_model::dataplane::ZONE_LABEL)
            .and_then(|zone| {
                state
                    .traffic
                    .insights
                    .of(zone, mesh, &manifest.metadata.name)
            });
        manifest.status = insight.and_then(|insight| serde_json::to_value(insight).ok());
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

/// Names of the meshes the caller may see (`None`: all).
pub async fn visible_meshes(state: &AppState, caller: &Caller) -> Result<Option<BTreeSet<String>>> {
    if caller.platform_admin {
        return Ok(None);
    }
    Ok(Some(
        state
            .store
            .list(Kind::Mesh, None)
            .await?
            .into_iter()
            .filter(|row| caller.role_in(&tenant_of(&row.spec)).is_some())
            .map(|row| row.name)
            .collect(),
    ))
}

/// Whether the caller may see a global-scoped row: tenants they are in, meshes of those
/// tenants, every zone.
fn visible(caller: &Caller, row: &StoredResource) -> bool {
    match row.kind {
        Kind::Tenant => caller.role_in(&row.name).is_some(),
        Kind::Mesh => caller.role_in(&tenant_of(&row.spec)).is_some(),
        _ => true,
    }
}

/// What the caller may see of `kind` (in `mesh`, for a mesh's kinds, once the caller's access
/// to the mesh is checked), with statuses: what the REST lists answer, for GraphQL too.
pub(super) async fn visible_manifests(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    mesh: Option<&str>,
) -> Result<Vec<Manifest>> {
    let rows = state.store.list(kind, mesh).await?;
    with_statuses(
        state,
        caller,
        rows.iter()
            .filter(|row| visible(caller, row))
            .map(StoredResource::to_manifest)
            .collect(),
    )
    .await
}

/// The page of `rows` the query asks for, of what the caller may see and the selector picks.
async fn list_response(
    state: &AppState,
    caller: &Caller,
    rows: &[StoredResource],
    query: &ListQuery,
) -> Result<Json<ResourceList>> {
    let selected = rows
        .iter()
        .filter(|row| visible(caller, row))
        .map(StoredResource::to_manifest)
        .filter(|manifest| query.selector.matches(&manifest.metadata.labels))
        .collect();
    let page = query.page(selected, |manifest| &manifest.metadata.name);
    let items = with_statuses(state, caller, page.items).await?;
    Ok(Json(ResourceList {
        items,
        total: page.total,
        continue_token: page.next,
    }))
}

/// `GET /v1/{plural}` of a global-scoped kind: what the caller may see.
pub async fn list_global(
    kind: Kind,
    state: AppState,
    caller: Caller,
    query: HashMap<String, String>,
) -> Result<Json<ResourceList>> {
    let query = ListQuery::parse(&query, true)?;
    let rows = state.store.list(kind, None).await?;
    list_response(&state, &caller, &rows, &query).await
}

/// `GET /v1/{plural}/{name}` of a global-scoped kind (the route checked access already).
pub async fn get_global(
    kind: Kind,
    state: AppState,
    caller: Caller,
    name: String,
) -> Result<Json<Manifest>> {
    let row = state
        .store
        .get(kind, "", &name)
        .await?
        .filter(|row| visible(&caller, row))
        .ok_or_else(|| Error::NotFound(format!("{kind} {name:?}")))?;
    Ok(Json(with_status(&state, &caller, row.to_manifest()).await?))
}

pub async fn put_global(
    kind: Kind,
    state: AppState,
    caller: Caller,
    name: String,
    body: Body,
) -> Result<Response> {
    put_resource(&state, &caller, kind, None, &name, body).await
}

pub async fn delete_global(
    kind: Kind,
    state: AppState,
    caller: Caller,
    name: String,
    query: HashMap<String, String>,
) -> Result<StatusCode> {
    delete_resource(&state, &caller, kind, "", &name, &query).await
}

/// `GET /v1/meshes/{mesh}/{plural}` (the route checked the caller may see the mesh).
pub async fn list_scoped(
    kind: Kind,
    state: AppState,
    caller: Caller,
    mesh: String,
    query: HashMap<String, String>,
) -> Result<Json<ResourceList>> {
    let query = ListQuery::parse(&query, true)?;
    let rows = state.store.list(kind, Some(&mesh)).await?;
    list_response(&state, &caller, &rows, &query).await
}

pub async fn get_scoped(
    kind: Kind,
    state: AppState,
    caller: Caller,
    mesh: String,
    name: String,
) -> Result<Json<Manifest>> {
    let row = state
        .store
        .get(kind, &mesh, &name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("{kind} {name:?}")))?;
    Ok(Json(with_status(&state, &caller, row.to_manifest()).await?))
}

pub async fn put_scoped(
    kind: Kind,
    state: AppState,
    caller: Caller,
    mesh: String,
    name: String,
    body: Body,
) -> Result<Response> {
    put_resource(&state, &caller, kind, Some(&mesh), &name, body).await
}

pub async fn delete_scoped(
    kind: Kind,
    state: AppState,
    caller: Caller,
    mesh: String,
    name: String,
    query: HashMap<String, String>,
) -> Result<StatusCode> {
    delete_resource(&state, &caller, kind, &mesh, &name, &query).await
}

/// `POST /api/v1/apply`: every document or none, each authorized as its own PUT would be.
/// Errors name `documents[i]`.
pub async fn apply(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    axum::extract::Query(query): axum::extract::Query<HashMap<String, String>>,
    body: Body,
) -> Result<Json<ApplyResponse>> {
    let dry_run = match query.get("dryRun").map(String::as_str) {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => {
            return Err(Error::BadRequest(
                "query parameter dryRun must be true or false".into(),
            ));
        }
    };
    let text = read_text(body).await?;
    // Syntax errors are 400; documents that parse but do not validate are 422.
    let documents =
        parse_documents(&text).map_err(|errors| Error::BadRequest(errors.to_string()))?;
    let resources = parse_resources(&text, Author::User)?;
    let prefix_of = |position: usize| {
        if documents.len() > 1 {
            format!("documents[{position}].")
        } else {
            String::new()
        }
    };
    let mut problems = Vec::new();
    let mut seen: BTreeMap<(Kind, String, String), usize> = BTreeMap::new();
    for (position, resource) in resources.iter().enumerate() {
        let prefix = prefix_of(position);
        if resource.kind().origin() == weft_model::kind::Origin::Zone {
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
    // Tenants and meshes first, so policies of a mesh created in this batch find its tenant.
    let mut order: Vec<usize> = (0..resources.len()).collect();
    order.sort_by_key(|position| match resources[*position].kind() {
        Kind::Tenant => 0,
        Kind::Mesh => 1,
        _ => 2,
    });
    let mut resources: Vec<Option<Resource>> = resources.into_iter().map(Some).collect();
    let mut batch = Batch::default();
    let mut prepared: Vec<Option<(Resource, Option<u64>)>> = vec![None; resources.len()];
    let mut cas = Vec::new();
    for position in order {
        let prefix = prefix_of(position);
        let Some(mut resource) = resources[position].take() else {
            continue;
        };
        authorize_write(&state, &caller, &mut resource, &batch, &prefix).await?;
        match &resource.spec {
            Spec::Mesh(spec) => {
                batch.meshes.insert(
                    resource.name().to_string(),
                    spec.tenant.clone().unwrap_or_default(),
                );
            }
            Spec::Tenant(_) => {
                batch.tenants.insert(resource.name().to_string());
            }
            _ => {}
        }
        if let Some(ca) = state.cas.prepare(&mut resource, &prefix).await? {
            cas.push((resource.name().to_string(), ca));
        }
        let expected = expected_of(&resource);
        prepared[position] = Some((resource, expected));
    }
    let writes: Vec<(Resource, Option<u64>)> = prepared.into_iter().flatten().collect();
    if dry_run {
        return Ok(Json(ApplyResponse {
            items: super::dry_run::outcomes(&state, &writes).await?,
            dry_run: true,
            effects: super::dry_run::effects(&state, &writes).await?,
        }));
    }
    let results = state.store.apply(&writes, &caller.actor()).await?;
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
    tracing::info!(documents = items.len(), user = %caller.user, "manifests applied");
    Ok(Json(ApplyResponse {
        items,
        ..ApplyResponse::default()
    }))
}
