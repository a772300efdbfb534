//! Every route of the REST API in one table: method, path, who may call it, what it takes and
//! returns, and its handler. The router ([`super::app`]) and the OpenAPI document
//! ([`super::openapi`]) are both built from this table, so no route exists without an access
//! rule and a place in the document. The per-kind routes come from the one kind list.

use std::collections::HashMap;

use axum::extract::{Extension, Path, Query, State};
use axum::http::Method;
use axum::routing::{MethodRouter, delete, get, patch, post, put};
use weft_model::Kind;
use weft_model::kind::Origin;
use weft_model::tenant::Role;

use super::{
    AppState, audit, auth, ca, console, graph, inventory, list, resources, rollouts, tokens, users,
};
use crate::access::{Access, Caller};

/// What a request or response carries, for the document.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    None,
    /// A JSON body of the named component schema.
    Json(&'static str),
    /// One manifest of a kind (YAML or JSON).
    Manifest(Kind),
    /// A list of manifests of a kind.
    ManifestList(Kind),
    /// Several YAML documents.
    Documents,
    /// Server-sent events, each a JSON body of the named schema.
    Events(&'static str),
    /// Any JSON (the OpenAPI document itself).
    AnyJson,
    /// A GraphQL response (JSON with `data` and `errors`).
    GraphQl,
    /// An HTML page.
    Html,
}

pub struct Route {
    pub method: Method,
    /// Under `/api`.
    pub path: String,
    pub access: Access,
    pub summary: String,
    pub tag: &'static str,
    /// Query parameters: name and what it does.
    pub query: &'static [(&'static str, &'static str)],
    pub request: Payload,
    /// The request body may be left out.
    pub optional_body: bool,
    pub status: u16,
    /// A `PUT` that answers 201 when it created the resource (`status` when it replaced one).
    pub creates: bool,
    pub response: Payload,
    pub(super) handler: MethodRouter<AppState>,
}

impl Route {
    fn new(
        method: Method,
        path: impl Into<String>,
        access: Access,
        tag: &'static str,
        summary: impl Into<String>,
        handler: MethodRouter<AppState>,
    ) -> Route {
        Route {
            method,
            path: path.into(),
            access,
            summary: summary.into(),
            tag,
            query: &[],
            request: Payload::None,
            optional_body: false,
            status: 200,
            creates: false,
            response: Payload::None,
            handler,
        }
    }

    fn takes(mut self, request: Payload) -> Route {
        self.request = request;
        self
    }

    fn gives(mut self, status: u16, response: Payload) -> Route {
        self.status = status;
        self.response = response;
        self
    }

    fn optional(mut self) -> Route {
        self.optional_body = true;
        self
    }

    fn creates(mut self) -> Route {
        self.creates = true;
        self
    }

    fn query(mut self, query: &'static [(&'static str, &'static str)]) -> Route {
        self.query = query;
        self
    }

    /// The path parameters, in order.
    pub fn parameters(&self) -> Vec<&str> {
        self.path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .collect()
    }
}

const RESOURCE_VERSION: &[(&str, &str)] = &[(
    "resourceVersion",
    "delete only when the stored resourceVersion is this one (409 otherwise)",
)];

/// The routes of the kinds: global-scoped ones at `/v1/{plural}`, mesh-scoped ones under
/// `/v1/meshes/{mesh}/`. Kinds registered by zones are read-only.
fn kind_routes(routes: &mut Vec<Route>) {
    use Method as M;
    for &kind in Kind::ALL {
        let plural = kind.plural();
        let name = kind.name();
        let writable = kind.origin() == Origin::Global;
        if kind.is_mesh_scoped() {
            let collection = format!("/v1/meshes/{{mesh}}/{plural}");
            let item = format!("/v1/meshes/{{mesh}}/{plural}/{{name}}");
            routes.push(
                Route::new(
                    M::GET,
                    &collection,
                    Access::Mesh(Role::Viewer),
                    name,
                    format!("List the {name} resources of a mesh"),
                    get(
                        move |State(state): State<AppState>,
                              Extension(caller): Extension<Caller>,
                              Path(mesh): Path<String>,
                              Query(query): Query<HashMap<String, String>>| {
                            resources::list_scoped(kind, state, caller, mesh, query)
                        },
                    ),
                )
                .query(list::PAGED_LABELLED)
                .gives(200, Payload::ManifestList(kind)),
            );
            routes.push(
                Route::new(
                    M::GET,
                    &item,
                    Access::Mesh(Role::Viewer),
                    name,
                    format!("Read a {name}"),
                    get(
                        move |State(state): State<AppState>,
                              Extension(caller): Extension<Caller>,
                              Path((mesh, name)): Path<(String, String)>| {
                            resources::get_scoped(kind, state, caller, mesh, name)
                        },
                    ),
                )
                .gives(200, Payload::Manifest(kind)),
            );
            if writable {
                routes.push(
                    Route::new(
                        M::PUT,
                        &item,
                        Access::Mesh(Role::Editor),
                        name,
                        format!(
                            "Create or replace a {name} (send metadata.resourceVersion to replace only that version)"
                        ),
                        put(
                            move |State(state): State<AppState>,
                                  Extension(caller): Extension<Caller>,
                                  Path((mesh, name)): Path<(String, String)>,
                                  body: axum::body::Body| {
                                resources::put_scoped(kind, state, caller, mesh, name, body)
                            },
                        ),
                    )
                    .takes(Payload::Manifest(kind))
                    .gives(200, Payload::Manifest(kind))
                    .creates(),
                );
                routes.push(
                    Route::new(
                        M::DELETE,
                        &item,
                        Access::Mesh(Role::Editor),
                        name,
                        format!("Delete a {name}"),
                        delete(
                            move |State(state): State<AppState>,
                                  Extension(caller): Extension<Caller>,
                                  Path((mesh, name)): Path<(String, String)>,
                                  Query(query): Query<HashMap<String, String>>| {
                                resources::delete_scoped(kind, state, caller, mesh, name, query)
                            },
                        ),
                    )
                    .query(RESOURCE_VERSION)
                    .gives(204, Payload::None),
                );
            }
            continue;
        }
        // Global-scoped kinds: the item parameter is named after the kind, so the access
        // rules find it.
        let (param, read, write, remove) = match kind {
            Kind::Tenant => (
                "tenant",
                Access::Tenant(Role::Viewer),
                Access::TenantOrCreate,
                Access::PlatformAdmin,
            ),
            Kind::Mesh => (
                "mesh",
                Access::Mesh(Role::Viewer),
                Access::MeshOrCreate,
                Access::Mesh(Role::Owner),
            ),
            _ => (
                "zone",
                Access::User,
                Access::PlatformAdmin,
                Access::PlatformAdmin,
            ),
        };
        let collection = format!("/v1/{plural}");
        let item = format!("/v1/{plural}/{{{param}}}");
        routes.push(
            Route::new(
                M::GET,
                &collection,
                Access::User,
                name,
                format!("List the {name} resources the caller may see"),
                get(
                    move |State(state): State<AppState>,
                          Extension(caller): Extension<Caller>,
                          Query(query): Query<HashMap<String, String>>| {
                        resources::list_global(kind, state, caller, query)
                    },
                ),
            )
            .query(list::PAGED_LABELLED)
            .gives(200, Payload::ManifestList(kind)),
        );
        routes.push(
            Route::new(
                M::GET,
                &item,
                read,
                name,
                format!("Read a {name}"),
                get(
                    move |State(state): State<AppState>,
                          Extension(caller): Extension<Caller>,
                          Path(name): Path<String>| {
                        resources::get_global(kind, state, caller, name)
                    },
                ),
            )
            .gives(200, Payload::Manifest(kind)),
        );
        routes.push(
            Route::new(
                M::PUT,
                &item,
                write,
                name,
                format!("Create or replace a {name}"),
                put(
                    move |State(state): State<AppState>,
                          Extension(caller): Extension<Caller>,
                          Path(name): Path<String>,
                          body: axum::body::Body| {
                        resources::put_global(kind, state, caller, name, body)
                    },
                ),
            )
            .takes(Payload::Manifest(kind))
            .gives(200, Payload::Manifest(kind))
            .creates(),
        );
        routes.push(
            Route::new(
                M::DELETE,
                &item,
                remove,
                name,
                format!("Delete a {name}"),
                delete(
                    move |State(state): State<AppState>,
                          Extension(caller): Extension<Caller>,
                          Path(name): Path<String>,
                          Query(query): Query<HashMap<String, String>>| {
                        resources::delete_global(kind, state, caller, name, query)
                    },
                ),
            )
            .query(RESOURCE_VERSION)
            .gives(204, Payload::None),
        );
    }
}

/// Every route of the API.
pub fn all() -> Vec<Route> {
    use Access::{Mesh, PlatformAdmin, Public, Tenant, User};
    use Method as M;
    use Payload::{Json, None as Nothing};
    let mut routes = vec![
        Route::new(M::POST, "/v1/auth/login", Public, "auth", "Log in with a user name and password", post(auth::login))
            .takes(Json("LoginRequest"))
            .gives(200, Json("LoginResponse")),
        Route::new(M::GET, "/v1/openapi.json", Public, "meta", "This document", get(super::openapi::serve))
            .gives(200, Payload::AnyJson),
        Route::new(M::GET, "/v1/whoami", User, "auth", "The caller, its roles and its token", get(auth::whoami))
            .gives(200, Json("WhoAmI")),
        Route::new(M::POST, "/v1/auth/logout", User, "auth", "Revoke the token of this request", post(auth::logout))
            .gives(204, Nothing),
        Route::new(M::GET, "/v1/auth/tokens", User, "auth", "The caller's API tokens (platform admins: everyone's)", get(auth::list_tokens))
            .query(list::PAGED)
            .gives(200, Json("ApiTokenList")),
        Route::new(M::POST, "/v1/auth/tokens", User, "auth", "Issue an API token, optionally narrowed to a tenant and a role", post(auth::issue_token))
            .takes(Json("ApiTokenRequest"))
            .gives(201, Json("IssuedApiToken")),
        Route::new(M::DELETE, "/v1/auth/tokens/{id}", User, "auth", "Revoke an API token", delete(auth::revoke_token))
            .gives(204, Nothing),
        Route::new(M::POST, "/v1/auth/keys/rotate", PlatformAdmin, "auth", "Sign with a new key; older keys keep verifying", post(auth::rotate_keys))
            .gives(200, Json("KeyRotation")),
        Route::new(M::GET, "/v1/users", PlatformAdmin, "users", "List users", get(users::list))
            .query(list::PAGED)
            .gives(200, Json("UserList")),
        Route::new(M::POST, "/v1/users", PlatformAdmin, "users", "Create a user", post(users::create))
            .takes(Json("NewUser"))
            .gives(201, Json("UserView")),
        Route::new(M::GET, "/v1/users/{user}", User, "users", "Read a user (yourself, or anyone as a platform admin)", get(users::get_one))
            .gives(200, Json("UserView")),
        Route::new(M::PATCH, "/v1/users/{user}", PlatformAdmin, "users", "Make a user a platform admin or not", patch(users::change))
            .takes(Json("UserChange"))
            .gives(200, Json("UserView")),
        Route::new(M::DELETE, "/v1/users/{user}", PlatformAdmin, "users", "Delete a user, revoking their tokens and memberships", delete(users::delete))
            .gives(204, Nothing),
        Route::new(M::PUT, "/v1/users/{user}/password", User, "users", "Change your password (or reset anyone's as a platform admin); revokes the user's tokens", put(users::set_password))
            .takes(Json("PasswordChange"))
            .gives(204, Nothing),
        Route::new(M::GET, "/v1/tenants/{tenant}/members", Tenant(Role::Viewer), "Tenant", "List a tenant's members", get(users::list_members))
            .query(list::PAGED)
            .gives(200, Json("MemberList")),
        Route::new(M::POST, "/v1/tenants/{tenant}/members", Tenant(Role::Owner), "Tenant", "Add a member", post(users::add_member))
            .takes(Json("Member"))
            .gives(201, Json("Member")),
        Route::new(M::PUT, "/v1/tenants/{tenant}/members/{user}", Tenant(Role::Owner), "Tenant", "Set a member's role", put(users::set_member))
            .takes(Json("MemberRole"))
            .gives(200, Json("Member"))
            .creates(),
        Route::new(M::DELETE, "/v1/tenants/{tenant}/members/{user}", Tenant(Role::Owner), "Tenant", "Remove a member", delete(users::remove_member))
            .gives(204, Nothing),
        Route::new(M::POST, "/v1/apply", User, "resources", "Apply several manifests, all or nothing (or, with dryRun, say what would change)", post(resources::apply))
            .query(&[("dryRun", "true: check and authorize as for real, write nothing, and answer what would change: each document's outcome and every proxy whose configuration would move")])
            .takes(Payload::Documents)
            .gives(200, Json("ApplyResponse")),
        Route::new(M::POST, "/v1/zones/{zone}/token", PlatformAdmin, "Zone", "Issue a zone token (shown once)", post(tokens::issue_zone_token))
            .takes(Json("ZoneTokenRequest"))
            .optional()
            .gives(201, Json("IssuedToken")),
        Route::new(M::GET, "/v1/zones/{zone}/tokens", PlatformAdmin, "Zone", "List a zone's tokens", get(tokens::list_zone_tokens))
            .query(list::PAGED)
            .gives(200, Json("TokenList")),
        Route::new(M::DELETE, "/v1/zones/{zone}/tokens/{id}", PlatformAdmin, "Zone", "Revoke a zone token", delete(tokens::revoke_zone_token))
            .gives(204, Nothing),
        Route::new(M::GET, "/v1/meshes/{mesh}/dataplane-tokens", Mesh(Role::Owner), "Mesh", "List a mesh's dataplane tokens", get(tokens::list_dataplane_tokens))
            .query(list::PAGED)
            .gives(200, Json("TokenList")),
        Route::new(M::POST, "/v1/meshes/{mesh}/dataplane-tokens", Mesh(Role::Owner), "Mesh", "Issue a dataplane token for a service (shown once)", post(tokens::issue_dataplane_token))
            .takes(Json("DataplaneTokenRequest"))
            .gives(201, Json("IssuedToken")),
        Route::new(M::DELETE, "/v1/meshes/{mesh}/dataplane-tokens/{id}", Mesh(Role::Owner), "Mesh", "Revoke a dataplane token", delete(tokens::revoke_dataplane_token))
            .gives(204, Nothing),
        Route::new(M::GET, "/v1/meshes/{mesh}/services", Mesh(Role::Viewer), "Mesh", "Services with versions, instances, zones and health", get(inventory::services))
            .query(list::PAGED)
            .gives(200, Json("ServiceList")),
        Route::new(M::GET, "/v1/meshes/{mesh}/ca", Mesh(Role::Viewer), "Mesh", "The mesh's trusted roots and rotation phase (never a key)", get(ca::mesh_ca))
            .gives(200, Payload::AnyJson),
        Route::new(M::POST, "/v1/meshes/{mesh}/ca/rotate", Mesh(Role::Owner), "Mesh", "Rotate the mesh's builtin CA without dropping a request", post(ca::rotate))
            .gives(202, Payload::AnyJson),
        Route::new(M::GET, "/v1/meshes/{mesh}/graph", Mesh(Role::Viewer), "Mesh", "The traffic graph over a window", get(graph::graph))
            .query(&[
                ("window", "how far back, e.g. 60s (1s to the retention)"),
                ("ago", "replay: the graph as it was this long ago, e.g. 5m (ago + window at most the retention, 900s)"),
            ])
            .gives(200, Json("Graph")),
        Route::new(M::GET, "/v1/meshes/{mesh}/graph/stream", Mesh(Role::Viewer), "Mesh", "The traffic graph, live (server-sent events, one snapshot a second)", get(graph::stream))
            .query(&[("window", "how far back each snapshot looks, e.g. 10s")])
            .gives(200, Payload::Events("Graph")),
        Route::new(M::GET, "/v1/meshes/{mesh}/dataplanes/{name}/config", Mesh(Role::Viewer), "Dataplane", "The configuration the proxy receives, with provenance", get(inventory::dataplane_config))
            .gives(200, Payload::AnyJson),
        Route::new(M::GET, "/v1/meshes/{mesh}/dataplanes/{name}/policies", Mesh(Role::Viewer), "Dataplane", "Which policies apply to the proxy, in which order, and what came out", get(inventory::dataplane_policies))
            .gives(200, Json("PolicyReport")),
        Route::new(M::POST, "/graphql", User, "graphql", "GraphQL: tenants, meshes, services, dataplanes, policies and the graph the caller may see", post(super::graphql::execute))
            .takes(Json("GraphQlRequest"))
            .gives(200, Payload::GraphQl),
        Route::new(M::GET, "/graphql", Public, "graphql", "The GraphQL explorer: a query editor with the schema's types, in the console (the page holds no data; its queries need a token)", get(console::graphql_explorer))
            .gives(200, Payload::Html),
        Route::new(M::GET, "/v1/audit", User, "audit", "The audit log (platform admins: all; tenant owners: their tenants')", get(audit::list))
            .query(&[
                ("tenant", "only this tenant's entries"),
                ("mesh", "only this mesh's entries"),
                ("user", "only this user's writes"),
                ("kind", "only writes of this kind"),
                ("since", "RFC 3339, inclusive"),
                ("until", "RFC 3339, exclusive"),
                ("continue", "the `continue` of the previous page"),
                ("limit", "entries per page, 1 to 1000 (100)"),
            ])
            .gives(200, Json("AuditPage")),
    ];
    kind_routes(&mut routes);
    rollout_routes(&mut routes);
    routes
}

/// A rollout's history and the actions on it.
fn rollout_routes(routes: &mut Vec<Route>) {
    use weft_model::canary::Action;
    routes.push(
        Route::new(
            Method::GET,
            "/v1/meshes/{mesh}/rollouts/{name}/history",
            Access::Mesh(Role::Viewer),
            "Rollout",
            "The rollout's decisions, newest first: every check with its measured values and gates, every weight and phase change, and who made it",
            get(
                |State(state): State<AppState>,
                 Path((mesh, name)): Path<(String, String)>,
                 Query(query): Query<HashMap<String, String>>| {
                    rollouts::history(state, mesh, name, query)
                },
            ),
        )
        .query(&[
            ("limit", "entries per page, 1 to 1000 (100)"),
            ("continue", "the `continue` of the previous page"),
        ])
        .gives(200, Payload::Json("RolloutHistory")),
    );
    routes.push(
        Route::new(
            Method::GET,
            "/v1/meshes/{mesh}/rollouts/{name}/stream",
            Access::Mesh(Role::Viewer),
            "Rollout",
            "The rollout, live (server-sent events, one frame a second: status, newest decisions and the canary's traffic)",
            get(
                |State(state): State<AppState>,
                 Extension(caller): Extension<Caller>,
                 Path((mesh, name)): Path<(String, String)>| {
                    rollouts::stream(state, caller, mesh, name)
                },
            ),
        )
        .gives(200, Payload::Events("RolloutFrame")),
    );
    for (action, summary) in [
        (
            Action::Pause,
            "Pause the rollout: weights stay until it resumes",
        ),
        (
            Action::Resume,
            "Resume a paused rollout at the step it was paused at",
        ),
        (
            Action::Promote,
            "Promote the canary at once: all traffic to it",
        ),
        (
            Action::Abort,
            "Abort the rollout: all traffic back to stable at once",
        ),
    ] {
        routes.push(
            Route::new(
                Method::POST,
                format!("/v1/meshes/{{mesh}}/rollouts/{{name}}/{}", action.name()),
                Access::Mesh(Role::Editor),
                "Rollout",
                format!("{summary} (409 when the rollout's phase does not allow it)"),
                post(
                    move |State(state): State<AppState>,
                          Extension(caller): Extension<Caller>,
                          Path((mesh, name)): Path<(String, String)>| {
                        rollouts::act(action, state, caller, mesh, name)
                    },
                ),
            )
            .gives(200, Payload::Json("RolloutStatus")),
        );
    }
}
