//! The HTTP surface of weft-global: REST API under /api, operations endpoints, and the console.

mod auth;
mod body;
mod ca;
mod console;
mod graph;
mod inventory;
mod ops;
mod resources;
mod tokens;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::sync::watch;
use weft_api::error::{self as codes, ErrorBody};
use weft_model::Kind;

use crate::auth::Authority;
use crate::metrics::{HttpLabels, Metrics};
use crate::store::Store;
use crate::traffic::{Thresholds, TrafficWindow};

pub use body::MAX_BODY_BYTES;

#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub authority: Arc<Authority>,
    pub cas: Arc<crate::ca::MeshCas>,
    pub traffic: Arc<TrafficWindow>,
    pub metrics: Arc<Metrics>,
    pub console_dir: Option<PathBuf>,
    pub thresholds: Thresholds,
    /// Flips to true on shutdown; long-lived responses (event streams) end when it does.
    pub shutdown: watch::Receiver<bool>,
}

/// The whole HTTP application; tests call it without a socket.
pub fn app(state: AppState) -> Router {
    let protected = Router::new()
        .route("/v1/whoami", get(auth::whoami))
        .route("/v1/apply", post(resources::apply))
        .route("/v1/tenants", resources::global_collection(Kind::Tenant))
        .route("/v1/tenants/{name}", resources::global_item(Kind::Tenant))
        .route("/v1/meshes", resources::global_collection(Kind::Mesh))
        .route("/v1/meshes/{name}", resources::global_item(Kind::Mesh))
        .route("/v1/zones", resources::global_collection(Kind::Zone))
        .route("/v1/zones/{name}", resources::global_item(Kind::Zone))
        .route("/v1/zones/{zone}/token", post(tokens::issue_zone_token))
        .route("/v1/zones/{zone}/tokens", get(tokens::list_zone_tokens))
        .route(
            "/v1/zones/{zone}/tokens/{id}",
            axum::routing::delete(tokens::revoke_zone_token),
        )
        .route(
            "/v1/meshes/{mesh}/dataplane-tokens",
            get(tokens::list_dataplane_tokens).post(tokens::issue_dataplane_token),
        )
        .route(
            "/v1/meshes/{mesh}/dataplane-tokens/{id}",
            axum::routing::delete(tokens::revoke_dataplane_token),
        )
        .route("/v1/meshes/{mesh}/services", get(inventory::services))
        .route("/v1/meshes/{mesh}/ca", get(ca::mesh_ca))
        .route(
            "/v1/meshes/{mesh}/ca/rotate",
            axum::routing::post(ca::rotate),
        )
        .route("/v1/meshes/{mesh}/graph", get(graph::graph))
        .route("/v1/meshes/{mesh}/graph/stream", get(graph::stream))
        .route(
            "/v1/meshes/{mesh}/dataplanes/{name}/config",
            get(inventory::dataplane_config),
        )
        .route(
            "/v1/meshes/{mesh}/dataplanes/{name}/policies",
            get(inventory::dataplane_policies),
        )
        .route("/v1/meshes/{mesh}/{plural}", get(resources::list))
        .route(
            "/v1/meshes/{mesh}/{plural}/{name}",
            get(resources::get_one)
                .put(resources::put)
                .delete(resources::delete),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            auth::require_caller,
        ));
    let api = Router::new()
        .route("/v1/auth/login", post(auth::login))
        .merge(protected)
        .fallback(api_not_found)
        .layer(middleware::map_response(json_errors));
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback_service(console::service(state.console_dir.clone()))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

async fn api_not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(ErrorBody::new(codes::NOT_FOUND, "no such API path")),
    )
        .into_response()
}

/// Errors produced by axum itself (bad paths, unsupported methods, oversized bodies) are
/// plain text; rewrite them into the JSON error shape every API client expects.
async fn json_errors(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let code = match status {
        StatusCode::UNAUTHORIZED => codes::UNAUTHORIZED,
        StatusCode::FORBIDDEN => codes::FORBIDDEN,
        StatusCode::NOT_FOUND => codes::NOT_FOUND,
        StatusCode::CONFLICT => codes::CONFLICT,
        status if status.is_server_error() => codes::INTERNAL,
        _ => codes::BAD_REQUEST,
    };
    let (parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let mut message = String::from_utf8_lossy(&text).trim().to_string();
    if message.is_empty() {
        message = status.canonical_reason().unwrap_or("error").to_lowercase();
    }
    let mut response = (status, axum::Json(ErrorBody::new(code, message))).into_response();
    for (name, value) in parts
        .headers
        .iter()
        .filter(|(name, _)| *name == header::ALLOW)
    {
        response.headers_mut().insert(name, value.clone());
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn count_requests(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = request.method().to_string();
    let response = next.run(request).await;
    state
        .metrics
        .http_requests
        .get_or_create(&HttpLabels {
            method,
            status: response.status().as_u16(),
        })
        .inc();
    response
}
