//! The one check in front of every route: the bearer token is verified and turned into a
//! [`Caller`], and the route's [`Access`] is enforced before the handler runs.

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::RequestPartsExt;
use axum::extract::{ConnectInfo, Path, Request};
use axum::http::header;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use weft_model::Kind;
use weft_model::tenant::Role;

use super::AppState;
use crate::access::{self, Access, Caller};
use crate::error::{Error, Result};

/// The caller of a request with a bearer token.
pub async fn caller(state: &AppState, parts: &Parts) -> Result<Caller> {
    let header = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(Error::Unauthorized(
            "missing Authorization: Bearer <token> header",
        ))?;
    let token = header.strip_prefix("Bearer ").ok_or(Error::Unauthorized(
        "the Authorization header must be Bearer <token>",
    ))?;
    let verified = state.authority.verify(token.trim(), &state.store).await?;
    let address = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip().to_string())
        .unwrap_or_default();
    access::resolve(&state.store, verified, address).await
}

fn parameter(params: &HashMap<String, String>, name: &str) -> Result<String> {
    params
        .get(name)
        .cloned()
        .ok_or_else(|| Error::Internal(format!("route without a {name} parameter")))
}

/// Enforces `access` for the request, then runs the handler with the [`Caller`] in the
/// request's extensions.
pub async fn authorize(
    state: AppState,
    access: Access,
    request: Request,
    next: Next,
) -> Result<Response> {
    if access == Access::Public {
        return Ok(next.run(request).await);
    }
    let (mut parts, body) = request.into_parts();
    let caller = caller(&state, &parts).await?;
    let Path(params) = parts
        .extract::<Path<HashMap<String, String>>>()
        .await
        .map_err(|rejection| Error::BadRequest(rejection.body_text()))?;
    match access {
        Access::Public | Access::User => {}
        Access::PlatformAdmin => caller.require_admin()?,
        Access::Tenant(role) => {
            let tenant = parameter(&params, "tenant")?;
            caller.require_role(&tenant, role, &format!("tenant {tenant:?}"))?;
        }
        Access::Mesh(role) => {
            let mesh = parameter(&params, "mesh")?;
            access::require_mesh(&state.store, &caller, &mesh, role).await?;
        }
        Access::TenantOrCreate => {
            let tenant = parameter(&params, "tenant")?;
            if state.store.get(Kind::Tenant, "", &tenant).await?.is_some() {
                caller.require_role(&tenant, Role::Owner, &format!("tenant {tenant:?}"))?;
            } else {
                caller.require_admin()?;
            }
        }
        Access::MeshOrCreate => {
            let mesh = parameter(&params, "mesh")?;
            if state.store.get(Kind::Mesh, "", &mesh).await?.is_some() {
                access::require_mesh(&state.store, &caller, &mesh, Role::Owner).await?;
            }
        }
    }
    parts.extensions.insert(caller);
    Ok(next.run(Request::from_parts(parts, body)).await)
}
