//! Login, whoami, and the middleware that requires a valid token on every protected route.

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use weft_api::auth::{LoginRequest, LoginResponse, WhoAmI};

use super::AppState;
use super::body::read_json;
use crate::auth::{Caller, verify_password};
use crate::error::{Error, Result};

pub async fn login(State(state): State<AppState>, body: Body) -> Result<Json<LoginResponse>> {
    let request: LoginRequest = read_json(body).await?;
    if request.username.is_empty() || request.password.is_empty() {
        return Err(Error::BadRequest(
            "username and password are required".into(),
        ));
    }
    let user = state.store.user(&request.username).await?;
    let password = request.password.clone();
    let hash = user.as_ref().map(|user| user.password_hash.clone());
    // Argon2 is deliberately slow: keep it off the async workers.
    let valid = tokio::task::spawn_blocking(move || verify_password(&password, hash.as_deref()))
        .await
        .map_err(|error| Error::Internal(format!("password check: {error}")))?;
    let Some(user) = user.filter(|_| valid) else {
        tracing::info!(username = %request.username, "login failed");
        return Err(Error::Unauthorized("wrong username or password"));
    };
    let (token, expires_at) = state.authority.issue(&user.username, user.platform_admin)?;
    tracing::info!(username = %user.username, "login succeeded");
    Ok(Json(LoginResponse { token, expires_at }))
}

pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<WhoAmI> {
    Json(WhoAmI {
        subject: caller.subject,
        platform_admin: caller.platform_admin,
    })
}

pub async fn require_caller(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Result<Response> {
    let header = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .ok_or(Error::Unauthorized(
            "missing Authorization: Bearer <token> header",
        ))?;
    let token = header.strip_prefix("Bearer ").ok_or(Error::Unauthorized(
        "the Authorization header must be Bearer <token>",
    ))?;
    let caller = state.authority.verify(token.trim())?;
    request.extensions_mut().insert(caller);
    Ok(next.run(request).await)
}
