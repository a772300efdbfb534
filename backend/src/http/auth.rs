//! Login and logout, whoami, API tokens, and signing-key rotation.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{ConnectInfo, Extension, Path, Query, State};
use axum::http::StatusCode;
use weft_api::auth::{
    ApiTokenList, ApiTokenRequest, ApiTokenView, IssuedApiToken, KeyRotation, LoginRequest,
    LoginResponse, Membership, WhoAmI,
};
use weft_model::ValidationErrors;
use weft_model::tenant::Role;

use super::AppState;
use super::body::read_json;
use super::list::ListQuery;
use crate::access::Caller;
use crate::auth::{rfc3339, verify_password};
use crate::error::{Error, Result};
use crate::store::{ApiTokenRow, now_millis};

/// API tokens last 30 days unless asked otherwise, and at most a year.
const API_TOKEN_DEFAULT: Duration = Duration::from_secs(30 * 24 * 3600);
const API_TOKEN_MAX: Duration = Duration::from_secs(366 * 24 * 3600);

/// Logs in. Attempts are limited per client address and per user name (429 with
/// `retry-after`), and only a few passwords are hashed at once.
pub async fn login(
    State(state): State<AppState>,
    connection: Option<Extension<ConnectInfo<SocketAddr>>>,
    body: Body,
) -> Result<Json<LoginResponse>> {
    let request: LoginRequest = read_json(body).await?;
    if request.username.is_empty() || request.password.is_empty() {
        return Err(Error::BadRequest(
            "username and password are required".into(),
        ));
    }
    if request.password.len() > 1024 {
        return Err(Error::BadRequest("password is too long".into()));
    }
    let address = connection.map(|Extension(ConnectInfo(address))| address.ip());
    state.login_guard.attempt(address, &request.username)?;
    let user = state.store.user(&request.username).await?;
    let password = request.password.clone();
    let hash = user.as_ref().map(|user| user.password_hash.clone());
    // Argon2 is deliberately slow and big: it runs on the guard's hashing threads.
    let valid = state
        .login_guard
        .hash(move || verify_password(&password, hash.as_deref()))
        .await?;
    let Some(user) = user.filter(|_| valid) else {
        tracing::info!(username = %request.username, "login failed");
        return Err(Error::Unauthorized("wrong username or password"));
    };
    let (token, expires_at) = state
        .authority
        .issue_session(&user.username, user.token_generation)?;
    tracing::info!(username = %user.username, "login succeeded");
    Ok(Json(LoginResponse {
        token,
        expires_at: rfc3339(expires_at),
    }))
}

fn memberships(caller: &Caller) -> Vec<Membership> {
    caller
        .roles
        .iter()
        .map(|(tenant, role)| Membership {
            tenant: tenant.clone(),
            role: role.name().to_string(),
        })
        .collect()
}

pub async fn whoami(Extension(caller): Extension<Caller>) -> Json<WhoAmI> {
    Json(WhoAmI {
        user: caller.user.clone(),
        platform_admin: caller.platform_admin,
        tenants: memberships(&caller),
        token_id: caller.token_id.clone(),
        token_kind: if caller.api_token { "api" } else { "session" }.to_string(),
        expires_at: rfc3339(caller.expires_at),
    })
}

/// Revokes the token of this request: a login session until it expires, or the API token.
pub async fn logout(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<StatusCode> {
    if caller.api_token {
        if let Some(token) = state.store.api_token(&caller.token_id).await? {
            state
                .store
                .revoke_api_token(&token, &caller.actor())
                .await?;
        }
    } else {
        let expires = i64::try_from(caller.expires_at).unwrap_or(i64::MAX / 1000) * 1000;
        state
            .store
            .revoke_session(&caller.token_id, expires, &caller.actor())
            .await?;
    }
    tracing::info!(user = %caller.user, token = %caller.token_id, "token revoked by its holder");
    Ok(StatusCode::NO_CONTENT)
}

fn millis_to_rfc3339(millis: i64) -> String {
    rfc3339(u64::try_from(millis / 1000).unwrap_or(0))
}

fn view(row: &ApiTokenRow) -> ApiTokenView {
    ApiTokenView {
        id: row.id.clone(),
        name: row.name.clone(),
        user: row.username.clone(),
        tenant: row.tenant.clone(),
        role: row.role.map(|role| role.name().to_string()),
        created_at: millis_to_rfc3339(row.created_at),
        expires_at: millis_to_rfc3339(row.expires_at),
        revoked_at: row.revoked_at.map(millis_to_rfc3339),
    }
}

/// The caller's own API tokens (platform admins: everyone's).
pub async fn list_tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<std::collections::HashMap<String, String>>,
) -> Result<Json<ApiTokenList>> {
    let list = ListQuery::parse(&query, false)?;
    let owner = (!caller.platform_admin).then_some(caller.user.as_str());
    let rows = state.store.api_tokens(owner).await?;
    let page = list.page(rows.iter().map(view).collect(), |token| &token.id);
    Ok(Json(ApiTokenList {
        items: page.items,
        continue_token: page.next,
    }))
}

/// Issues an API token for the caller, narrowed as asked and never above what the caller's
/// own token may do. The secret is in this answer only.
pub async fn issue_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    body: Body,
) -> Result<(StatusCode, Json<IssuedApiToken>)> {
    let request: ApiTokenRequest = read_json(body).await?;
    let mut errors = weft_model::error::Errors::new();
    if request.name.trim().is_empty() || request.name.len() > 64 {
        errors.add("name", "must be 1 to 64 characters");
    }
    let role = match request.role.as_deref() {
        None => None,
        Some(text) => match Role::parse(text) {
            Some(role) => Some(role),
            None => {
                errors.add("role", "must be owner, editor or viewer");
                None
            }
        },
    };
    let valid_for = match request.valid_for.as_deref() {
        None => API_TOKEN_DEFAULT,
        Some(text) => match weft_model::duration::Duration::parse(text) {
            Ok(duration)
                if duration.as_std() >= Duration::from_secs(60)
                    && duration.as_std() <= API_TOKEN_MAX =>
            {
                duration.as_std()
            }
            Ok(_) => {
                errors.add("validFor", "must be between 1m and 8784h");
                API_TOKEN_DEFAULT
            }
            Err(problem) => {
                errors.add("validFor", problem);
                API_TOKEN_DEFAULT
            }
        },
    };
    errors.finish()?;
    // A token never grants more than the token that asked for it.
    if let Some(tenant) = &request.tenant {
        let held = caller
            .role_in(tenant)
            .ok_or_else(|| ValidationErrors::single("tenant", "you have no role in this tenant"))?;
        if role.is_some_and(|role| !held.allows(role)) {
            return Err(
                ValidationErrors::single("role", "is above your role in the tenant").into(),
            );
        }
    } else if !caller.platform_admin {
        let highest = caller
            .roles
            .values()
            .copied()
            .max_by_key(|role| role.rank());
        if let (Some(asked), Some(highest)) = (role, highest)
            && !highest.allows(asked)
        {
            return Err(ValidationErrors::single("role", "is above your roles").into());
        }
    }
    // A narrowed token asking for a token must stay as narrow.
    let (tenant, role) = if caller.api_token
        && let Some(current) = state.store.api_token(&caller.token_id).await?
    {
        if current.tenant.is_some() && request.tenant.is_none() {
            return Err(ValidationErrors::single(
                "tenant",
                "is required: this request's token is narrowed to a tenant",
            )
            .into());
        }
        let role = match (role, current.role) {
            (Some(asked), Some(limit)) => Some(asked.lower(limit)),
            (asked, limit) => asked.or(limit),
        };
        (request.tenant.clone(), role)
    } else {
        (request.tenant.clone(), role)
    };
    let user = state
        .store
        .user(&caller.user)
        .await?
        .ok_or(Error::Unauthorized("invalid or expired token"))?;
    let (id, token, expires) =
        state
            .authority
            .issue_api_token(&caller.user, user.token_generation, valid_for)?;
    let row = ApiTokenRow {
        id,
        username: caller.user.clone(),
        name: request.name.trim().to_string(),
        tenant,
        role,
        created_at: now_millis(),
        expires_at: i64::try_from(expires).unwrap_or(i64::MAX / 1000) * 1000,
        revoked_at: None,
    };
    state.store.insert_api_token(&row, &caller.actor()).await?;
    tracing::info!(user = %caller.user, token = %row.id, "API token issued");
    Ok((
        StatusCode::CREATED,
        Json(IssuedApiToken {
            token,
            about: view(&row),
        }),
    ))
}

/// Revokes an API token of the caller's (platform admins: anyone's).
pub async fn revoke_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<StatusCode> {
    let token = state
        .store
        .api_token(&id)
        .await?
        .filter(|token| caller.platform_admin || token.username == caller.user)
        .ok_or_else(|| Error::NotFound(format!("API token {id:?}")))?;
    state
        .store
        .revoke_api_token(&token, &caller.actor())
        .await?;
    tracing::info!(user = %caller.user, token = %id, "API token revoked");
    Ok(StatusCode::NO_CONTENT)
}

/// A new signing key signs from now on; older keys keep verifying what they signed.
pub async fn rotate_keys(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
) -> Result<Json<KeyRotation>> {
    let kid = state
        .authority
        .rotate(&state.store, &caller.actor())
        .await?;
    tracing::info!(user = %caller.user, kid = %kid, "signing key rotated");
    Ok(Json(KeyRotation {
        kid,
        verifying: state
            .authority
            .public_keys()
            .into_iter()
            .map(|key| key.kid)
            .collect(),
    }))
}
