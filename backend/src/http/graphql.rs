//! `POST /api/graphql`: one query across tenants → meshes → services → dataplanes →
//! policies, and the traffic graph. Every field shows only what the caller may see, with the
//! same rules as the REST API (a mesh of another tenant is simply absent); queries are bounded
//! in depth and complexity.

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Json, Object, Schema, SimpleObject,
};
use axum::extract::{Extension, State};
use serde_json::Value;
use weft_model::Kind;
use weft_model::tenant::{Role, TenantSpec};

use super::AppState;
use crate::access::Caller;
use crate::store::tenant_of;

pub type WeftSchema = Schema<Query, EmptyMutation, EmptySubscription>;

/// Deepest query accepted, and the most fields one query may ask for.
const MAX_DEPTH: usize = 10;
const MAX_COMPLEXITY: usize = 2_000;

pub fn schema() -> WeftSchema {
    Schema::build(Query, EmptyMutation, EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY)
        .finish()
}

/// Errors inside resolvers: logged in full, shown briefly.
fn failed(error: crate::error::Error) -> async_graphql::Error {
    if error.status().is_server_error() {
        tracing::error!(%error, "graphql resolver failed");
        async_graphql::Error::new("internal error; see the server log")
    } else {
        async_graphql::Error::new(error.to_string())
    }
}

type Answer<T> = async_graphql::Result<T>;

fn parts<'a>(context: &'a Context<'_>) -> (&'a AppState, &'a Caller) {
    (
        context.data_unchecked::<AppState>(),
        context.data_unchecked::<Caller>(),
    )
}

pub struct Query;

#[derive(SimpleObject)]
struct Me {
    user: String,
    platform_admin: bool,
    tenants: Vec<Membership>,
}

#[derive(SimpleObject)]
struct Membership {
    tenant: String,
    role: String,
}

#[derive(SimpleObject)]
struct Member {
    user: String,
    role: String,
}

#[Object]
impl Query {
    /// The caller.
    async fn whoami(&self, context: &Context<'_>) -> Me {
        let (_, caller) = parts(context);
        Me {
            user: caller.user.clone(),
            platform_admin: caller.platform_admin,
            tenants: caller
                .roles
                .iter()
                .map(|(tenant, role)| Membership {
                    tenant: tenant.clone(),
                    role: role.name().to_string(),
                })
                .collect(),
        }
    }

    /// The tenants the caller is in (platform admins: all).
    async fn tenants(&self, context: &Context<'_>) -> Answer<Vec<TenantNode>> {
        let (state, caller) = parts(context);
        Ok(visible(state, caller, Kind::Tenant, None)
            .await?
            .into_iter()
            .map(|manifest| TenantNode {
                name: manifest.metadata.name,
                spec: serde_json::from_value(manifest.spec).unwrap_or_default(),
            })
            .collect())
    }

    /// The meshes the caller may see.
    async fn meshes(&self, context: &Context<'_>) -> Answer<Vec<MeshNode>> {
        let (state, caller) = parts(context);
        visible_meshes(state, caller, None).await
    }

    /// The zones with their status (connected, version, and dataplane counts of the meshes
    /// the caller may see), as manifests.
    async fn zones(&self, context: &Context<'_>) -> Answer<Vec<Json<Value>>> {
        let (state, caller) = parts(context);
        Ok(as_json(visible(state, caller, Kind::Zone, None).await?))
    }

    /// One mesh, or null when it does not exist or the caller may not see it.
    async fn mesh(&self, context: &Context<'_>, name: String) -> Answer<Option<MeshNode>> {
        let (state, caller) = parts(context);
        Ok(visible_meshes(state, caller, Some(&name)).await?.pop())
    }
}

/// What the REST list of `kind` would show the caller (the same function answers both).
async fn visible(
    state: &AppState,
    caller: &Caller,
    kind: Kind,
    mesh: Option<&str>,
) -> Answer<Vec<weft_model::Manifest>> {
    super::resources::visible_manifests(state, caller, kind, mesh)
        .await
        .map_err(failed)
}

fn as_json(manifests: Vec<weft_model::Manifest>) -> Vec<Json<Value>> {
    manifests
        .iter()
        .map(|manifest| Json(serde_json::to_value(manifest).unwrap_or_default()))
        .collect()
}

async fn visible_meshes(
    state: &AppState,
    caller: &Caller,
    only: Option<&str>,
) -> Answer<Vec<MeshNode>> {
    Ok(visible(state, caller, Kind::Mesh, None)
        .await?
        .into_iter()
        .filter(|manifest| only.is_none_or(|name| manifest.metadata.name == name))
        .filter_map(|manifest| {
            let tenant = tenant_of(&manifest.spec);
            caller.role_in(&tenant).map(|role| MeshNode {
                name: manifest.metadata.name,
                tenant,
                role,
                spec: manifest.spec,
            })
        })
        .collect())
}

struct TenantNode {
    name: String,
    spec: TenantSpec,
}

#[Object]
impl TenantNode {
    async fn name(&self) -> &str {
        &self.name
    }

    async fn display_name(&self) -> Option<&str> {
        self.spec.display_name.as_deref()
    }

    /// Members and their roles.
    async fn members(&self) -> Vec<Member> {
        self.spec
            .members
            .iter()
            .filter_map(|member| {
                Some(Member {
                    user: member.user.clone(),
                    role: member.role?.name().to_string(),
                })
            })
            .collect()
    }

    /// The tenant's meshes.
    async fn meshes(&self, context: &Context<'_>) -> Answer<Vec<MeshNode>> {
        let (state, caller) = parts(context);
        Ok(visible_meshes(state, caller, None)
            .await?
            .into_iter()
            .filter(|mesh| mesh.tenant == self.name)
            .collect())
    }
}

struct MeshNode {
    name: String,
    tenant: String,
    /// The caller's role in the mesh's tenant.
    role: Role,
    spec: Value,
}

#[Object]
impl MeshNode {
    async fn name(&self) -> &str {
        &self.name
    }

    async fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The caller's role here: owner, editor or viewer.
    async fn role(&self) -> &str {
        self.role.name()
    }

    async fn spec(&self) -> Json<Value> {
        Json(self.spec.clone())
    }

    /// Services with versions, instances, zones and health.
    async fn services(&self, context: &Context<'_>) -> Answer<Vec<Json<Value>>> {
        let (state, _) = parts(context);
        let list = super::inventory::services_of(state, &self.name)
            .await
            .map_err(failed)?;
        Ok(list
            .iter()
            .map(|item| Json(serde_json::to_value(item).unwrap_or_default()))
            .collect())
    }

    /// The mesh's proxies.
    async fn dataplanes(&self, context: &Context<'_>) -> Answer<Vec<DataplaneNode>> {
        let (state, caller) = parts(context);
        Ok(visible(state, caller, Kind::Dataplane, Some(&self.name))
            .await?
            .into_iter()
            .map(|manifest| DataplaneNode {
                mesh: self.name.clone(),
                name: manifest.metadata.name.clone(),
                zone: manifest
                    .metadata
                    .labels
                    .get(weft_model::dataplane::ZONE_LABEL)
                    .cloned()
                    .unwrap_or_default(),
                manifest: serde_json::to_value(&manifest).unwrap_or_default(),
            })
            .collect())
    }

    /// Resources of one kind (its name or plural, e.g. TrafficRoute), as manifests.
    async fn resources(&self, context: &Context<'_>, kind: String) -> Answer<Vec<Json<Value>>> {
        let kind = Kind::parse(&kind)
            .or_else(|| Kind::from_plural(&kind.to_lowercase()))
            .filter(|kind| kind.is_mesh_scoped())
            .ok_or_else(|| {
                async_graphql::Error::new(format!("{kind:?} is not a kind of a mesh"))
            })?;
        self.manifests(context, kind).await
    }

    /// The mesh's canary rollouts, as manifests with their status (phase, weights, decisions).
    async fn rollouts(&self, context: &Context<'_>) -> Answer<Vec<Json<Value>>> {
        self.manifests(context, Kind::Rollout).await
    }

    /// The traffic graph over the last `windowSeconds` (1 to 900, 60 by default).
    async fn graph(
        &self,
        context: &Context<'_>,
        #[graphql(default = 60)] window_seconds: u32,
    ) -> Answer<Json<Value>> {
        let (state, _) = parts(context);
        if !(1..=crate::traffic::window::RETENTION_SECONDS as u32).contains(&window_seconds) {
            return Err(async_graphql::Error::new(
                "windowSeconds must be between 1 and 900",
            ));
        }
        let graph = super::graph::snapshot(state, &self.name, u64::from(window_seconds))
            .await
            .map_err(failed)?;
        Ok(Json(serde_json::to_value(graph).unwrap_or_default()))
    }
}

impl MeshNode {
    async fn manifests(&self, context: &Context<'_>, kind: Kind) -> Answer<Vec<Json<Value>>> {
        let (state, caller) = parts(context);
        Ok(as_json(
            visible(state, caller, kind, Some(&self.name)).await?,
        ))
    }
}

struct DataplaneNode {
    mesh: String,
    name: String,
    zone: String,
    manifest: Value,
}

#[Object]
impl DataplaneNode {
    async fn name(&self) -> &str {
        &self.name
    }

    /// The zone that registered it.
    async fn zone(&self) -> &str {
        &self.zone
    }

    async fn manifest(&self) -> Json<Value> {
        Json(self.manifest.clone())
    }

    /// Which policies apply, in which order, why, and what each produced.
    async fn policies(&self, context: &Context<'_>) -> Answer<Vec<Json<Value>>> {
        let (state, _) = parts(context);
        let explanation = super::inventory::explain_dataplane(state, &self.mesh, &self.name)
            .await
            .map_err(failed)?;
        Ok(explanation
            .policies
            .iter()
            .map(|policy| Json(serde_json::to_value(policy).unwrap_or_default()))
            .collect())
    }

    /// The configuration the proxy receives, with provenance.
    async fn config(&self, context: &Context<'_>) -> Answer<Json<Value>> {
        let (state, _) = parts(context);
        let explanation = super::inventory::explain_dataplane(state, &self.mesh, &self.name)
            .await
            .map_err(failed)?;
        Ok(Json(
            serde_json::to_value(explanation.config).unwrap_or_default(),
        ))
    }
}

/// The handler: the caller's query against the schema, with the caller attached. The body
/// must be one JSON object `{query, variables?, operationName?}` (400 otherwise); errors of the
/// query itself come back inside a 200, as GraphQL does.
pub async fn execute(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: axum::body::Body,
) -> crate::error::Result<axum::Json<async_graphql::Response>> {
    let request: weft_api::graphql::GraphQlRequest = super::body::read_json(body).await?;
    let mut query = async_graphql::Request::new(request.query);
    if let Some(variables) = request.variables {
        query = query.variables(async_graphql::Variables::from_json(Value::Object(
            variables,
        )));
    }
    if let Some(name) = request.operation_name {
        query = query.operation_name(name);
    }
    let query = query.data(state.clone()).data(caller);
    Ok(axum::Json(state.graphql.execute(query).await))
}
