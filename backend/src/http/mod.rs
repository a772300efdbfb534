//! The HTTP surface of weft-global: REST API under /api, operations endpoints, and the console.

mod audit;
mod auth;
mod authorize;
mod body;
mod ca;
mod console;
mod dry_run;
mod graph;
pub mod graph_hub;
pub mod graphql;
mod inventory;
pub mod list;
pub mod openapi;
mod ops;
mod resources;
mod rollouts;
pub mod routes;
mod tokens;
mod users;

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::sync::watch;
use weft_api::error::{self as codes, ErrorBody};

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
    /// Bounds on login attempts and password hashing.
    pub login_guard: Arc<crate::auth::guard::LoginGuard>,
    /// The live graph feeds, shared by streams of the same mesh and window.
    pub graph_hub: Arc<graph_hub::GraphHub>,
    /// The GraphQL schema (`POST /api/graphql`).
    pub graphql: graphql::WeftSchema,
    /// Wakes the rollout controller after a user's action.
    pub rollouts_wake: Arc<tokio::sync::Notify>,
}

/// The whole HTTP application; tests call it without a socket. Every API route comes from
/// the route table and passes the authorization check its access rule names.
pub fn app(state: AppState) -> Router {
    let mut api = Router::new();
    for route in routes::all() {
        let access = route.access;
        let checked = state.clone();
        api = api.route(
            &route.path,
            route
                .handler
                .route_layer(middleware::from_fn(move |request: Request, next: Next| {
                    authorize::authorize(checked.clone(), access, request, next)
                })),
        );
    }
    let api = api
        .fallback(api_not_found)
        .layer(middleware::map_response(json_errors));
    Router::new()
        .nest("/api", api)
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback_service(console::service(state.console_dir.clone()))
        .layer(middleware::map_response(security_headers))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            count_requests,
        ))
        .with_state(state)
}

/// What browsers may do with our pages: scripts, styles and connections from this origin
/// only (WebAssembly compiled from it), no framing, no inline code, no referrer to elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; \
     style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; \
     base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
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
    // A fixed set of labels: any other method string must not grow the metrics.
    let method = match *request.method() {
        axum::http::Method::GET => "GET",
        axum::http::Method::POST => "POST",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "OTHER",
    }
    .to_string();
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
