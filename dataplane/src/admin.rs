//! The admin port (9901): health, readiness, Prometheus metrics and the applied config.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::json;

use crate::proxy::Proxy;

#[derive(Clone)]
pub struct AdminState {
    pub proxy: Arc<Proxy>,
    pub connected: Arc<AtomicBool>,
    /// Set on shutdown: readiness fails first, so that nothing new is sent here.
    pub draining: Arc<AtomicBool>,
}

pub fn app(state: AdminState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/config", get(config))
        .route("/identity", get(identity))
        .with_state(state)
}

/// Ready once a config is applied; stays ready when the zone goes away (last config serves);
/// not ready any more once shutting down.
async fn readyz(State(state): State<AdminState>) -> impl IntoResponse {
    if state.draining.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "draining\n");
    }
    match state.proxy.runtime() {
        Some(_) => (StatusCode::OK, "ready\n"),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "waiting for the first config from the zone\n",
        ),
    }
}

async fn metrics(State(state): State<AdminState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            crate::telemetry::metrics::CONTENT_TYPE,
        )],
        crate::metrics::encode(&state.proxy),
    )
}

async fn config(State(state): State<AdminState>) -> impl IntoResponse {
    let connected = state.connected.load(Ordering::SeqCst);
    match state.proxy.runtime() {
        Some(runtime) => Json(
            json!({"version": runtime.version, "zoneConnected": connected, "config": runtime.config}),
        ),
        None => Json(json!({"version": 0, "zoneConnected": connected, "config": null})),
    }
}

/// The proxy's certificates: identity, validity, trusted roots (never the keys).
async fn identity(State(state): State<AdminState>) -> impl IntoResponse {
    Json(json!({"identities": state.proxy.shared.identities.views()}))
}
