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
    pub api_access: ApiAccess,
}

/// Who may read the zone API (`/api/v1/…`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ApiAccess {
    /// The port is on a loopback address: whoever can reach it is on this host.
    Local,
    /// Callers present this bearer token.
    Token(String),
    /// Not on loopback and no token: the API stays shut.
    Closed,
}

impl ApiAccess {
    pub fn new(address: std::net::SocketAddr, token: Option<String>) -> ApiAccess {
        match token {
            Some(token) => ApiAccess::Token(token),
            None if address.ip().is_loopback() => ApiAccess::Local,
            None => ApiAccess::Closed,
        }
    }
}

async fn guard_api(
    State(state): State<HttpState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let refuse = |message: &'static str| {
        (
            axum::http::StatusCode::UNAUTHORIZED,
            Json(serde_json::json!({"error": {"code": "unauthorized", "message": message}})),
        )
            .into_response()
    };
    match &state.api_access {
        ApiAccess::Local => next.run(request).await,
        ApiAccess::Closed => refuse(
            "the zone API answers on a loopback address only, unless weft-zone runs with --http-token-file",
        ),
        ApiAccess::Token(token) => {
            let presented = request
                .headers()
                .get(header::AUTHORIZATION)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.strip_prefix("Bearer "))
                .unwrap_or_default();
            // Compare in constant time: the token is a secret.
            let same = presented.len() == token.len()
                && presented
                    .bytes()
                    .zip(token.bytes())
                    .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                    == 0;
            if same {
                next.run(request).await
            } else {
                refuse("missing or wrong Authorization: Bearer <token> (--http-token-file)")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_is_local_or_needs_a_token() {
        let local = "127.0.0.1:5682".parse().unwrap();
        let everywhere = "0.0.0.0:5682".parse().unwrap();
        assert_eq!(ApiAccess::new(local, None), ApiAccess::Local);
        assert_eq!(ApiAccess::new(everywhere, None), ApiAccess::Closed);
        assert_eq!(
            ApiAccess::new(everywhere, Some("t".into())),
            ApiAccess::Token("t".into())
        );
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ZoneStatus {
    zone: String,
    global_connected: bool,
    /// The global store revision this zone has applied (0 before the first sync).
    global_revision: u64,
    meshes: Vec<String>,
    /// What the zone holds per mesh (received from global, or registered here).
    inventory: Vec<MeshInventory>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct MeshInventory {
    mesh: String,
    policies: usize,
    /// Registered with this zone.
    local_dataplanes: usize,
    /// Other zones' dataplanes (the endpoints across zones).
    remote_dataplanes: usize,
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
    let api = Router::new()
        .route("/api/v1/status", get(status))
        .route("/api/v1/dataplanes", get(dataplanes))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard_api,
        ));
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(|| async { "ready\n" }))
        .route("/metrics", get(metrics))
        .merge(api)
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
    let global_revision = match state.dataplanes.store.global_position().await {
        Ok((_, revision)) => revision,
        Err(error) => {
            tracing::warn!(%error, "reading the zone store failed");
            0
        }
    };
    Json(ZoneStatus {
        zone: state.zone.clone(),
        global_connected: state.global_connected.load(Ordering::SeqCst),
        global_revision,
        meshes: snapshot
            .meshes
            .iter()
            .filter(|(_, mesh)| mesh.exists())
            .map(|(name, _)| name.clone())
            .collect(),
        inventory: snapshot
            .meshes
            .iter()
            .filter(|(_, mesh)| mesh.exists())
            .map(|(name, mesh)| {
                let local = mesh.dataplanes.values().filter(|entry| entry.local).count();
                MeshInventory {
                    mesh: name.clone(),
                    policies: mesh.policies.len(),
                    local_dataplanes: local,
                    remote_dataplanes: mesh.dataplanes.len() - local,
                }
            })
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
