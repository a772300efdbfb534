//! `GET /api/v1/meshes/{mesh}/ca`: the mesh's trusted roots (certificates and fingerprints,
//! never a key), the rotation phase and what it waits for; `POST …/ca/rotate` starts a rotation
//! to a new builtin root (owners of the mesh's tenant).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;

use super::AppState;
use crate::access::Caller;
use crate::ca::CaView;
use crate::error::Result;

pub async fn mesh_ca(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
) -> Result<Json<CaView>> {
    Ok(Json(state.cas.view(&mesh).await?))
}

pub async fn rotate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(mesh): Path<String>,
) -> Result<(StatusCode, Json<CaView>)> {
    state.cas.rotate(&mesh, &caller.actor()).await?;
    tracing::info!(mesh, user = %caller.user, "CA rotation requested");
    Ok((StatusCode::ACCEPTED, Json(state.cas.view(&mesh).await?)))
}
