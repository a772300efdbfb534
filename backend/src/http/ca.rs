//! `GET /api/v1/meshes/{mesh}/ca`: the mesh's trusted roots (certificates and fingerprints,
//! never a key), the rotation phase and what it waits for; `POST …/ca/rotate` starts a rotation
//! to a new builtin root (platform admins).

use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;

use super::AppState;
use super::resources::require_mesh;
use crate::auth::Caller;
use crate::ca::CaView;
use crate::error::{Error, Result};

pub async fn mesh_ca(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
) -> Result<Json<CaView>> {
    require_mesh(&state, &mesh).await?;
    Ok(Json(state.cas.view(&mesh).await?))
}

pub async fn rotate(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(mesh): Path<String>,
) -> Result<(StatusCode, Json<CaView>)> {
    if !caller.platform_admin {
        return Err(Error::Forbidden("only platform admins rotate a mesh's CA"));
    }
    require_mesh(&state, &mesh).await?;
    state.cas.rotate(&mesh).await?;
    tracing::info!(mesh, user = %caller.subject, "CA rotation requested");
    Ok((StatusCode::ACCEPTED, Json(state.cas.view(&mesh).await?)))
}
