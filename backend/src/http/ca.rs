//! `GET /api/v1/meshes/{mesh}/ca`: the mesh's root certificate and fingerprint (never its key).

use axum::Json;
use axum::extract::{Path, State};
use serde::Serialize;

use super::AppState;
use super::resources::require_mesh;
use crate::auth::rfc3339;
use crate::error::{Error, Result};

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MeshCa {
    mesh: String,
    certificate: String,
    fingerprint: String,
    not_after: String,
}

pub async fn mesh_ca(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
) -> Result<Json<MeshCa>> {
    require_mesh(&state, &mesh).await?;
    let row = state.cas.root(&mesh).await?;
    let der = weft_identity::ca::first_der(&row.certificate)
        .map_err(|error| Error::Internal(error.to_string()))?;
    let not_after = weft_identity::ca::not_after(&der)
        .map_err(|error| Error::Internal(error.to_string()))?
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    Ok(Json(MeshCa {
        mesh,
        certificate: row.certificate,
        fingerprint: row.fingerprint,
        not_after: rfc3339(not_after),
    }))
}
