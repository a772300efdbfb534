//! weft-zone's HTTP port (5682): health, readiness, metrics and a read-only view of the zone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::dataplanes::{DataplaneService, SessionInfo};
use crate::metrics::Metrics;

#[derive(Clone)]
pub struct HttpState {
    pub zone: String,
    pub dataplanes: DataplaneService,
    pub global_connected: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ZoneStatus {
    zone: String,
    global_connected: bool,
    meshes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DataplaneStatus {
    mesh: String,
    name: String,
    #[serde(flatten)]
    session: SessionInfo,
}

#[derive(Serialize)]
struct DataplaneList {
    items: Vec<DataplaneStatus>,
}

pub fn app(state: HttpState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/status", get(status))
        .route("/api/v1/dataplanes", get(dataplanes))
        .with_state(state)
}

async fn metrics(
    State(state): State<HttpState>,
    headers: axum::http::HeaderMap,
) -> impl IntoResponse {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok());
    let (content_type, body) = weft_runtime::metrics::negotiate(accept, state.metrics.encode());
    ([(header::CONTENT_TYPE, content_type)], body)
}

async fn status(State(state): State<HttpState>) -> Json<ZoneStatus> {
    let snapshot = state.dataplanes.state.current();
    Json(ZoneStatus {
        zone: state.zone.clone(),
        global_connected: state.global_connected.load(Ordering::SeqCst),
        meshes: snapshot
            .meshes
            .iter()
            .filter(|(_, mesh)| mesh.exists())
            .map(|(name, _)| name.clone())
            .collect(),
    })
}

async fn dataplanes(State(state): State<HttpState>) -> Json<DataplaneList> {
    let sessions = state
        .dataplanes
        .sessions
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    let mut items: Vec<DataplaneStatus> = sessions
        .into_iter()
        .map(|((mesh, name), session)| DataplaneStatus {
            mesh,
            name,
            session,
        })
        .collect();
    items.sort_by(|a, b| (&a.mesh, &a.name).cmp(&(&b.mesh, &b.name)));
    Json(DataplaneList { items })
}
