//! Tokens for zones (platform admins) and dataplanes (owners of the mesh's tenant): issue
//! (the secret is shown once), list, revoke. The route table checks who may call each.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use axum::Extension;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use weft_api::tokens::{
    DataplaneTokenRequest, IssuedToken, TokenList, TokenView, ZoneTokenRequest,
};
use weft_model::ValidationErrors;
use weft_model::name::name_problem;

use super::AppState;
use super::body::read_text;
use super::list::ListQuery;
use crate::access::Caller;
use crate::auth::rfc3339;
use crate::error::{Error, Result};
use crate::store::{TokenKind, TokenRow, now_millis};

const DEFAULT_VALIDITY: Duration = Duration::from_secs(365 * 24 * 3600);
const MAX_VALIDITY: Duration = Duration::from_secs(10 * 365 * 24 * 3600);

/// `validFor`, between one minute and ten years.
fn validity(text: Option<&str>) -> Result<Duration> {
    let Some(text) = text else {
        return Ok(DEFAULT_VALIDITY);
    };
    let duration = weft_model::duration::Duration::parse(text)
        .map_err(|problem| ValidationErrors::single("validFor", problem))?
        .as_std();
    if duration < Duration::from_secs(60) || duration > MAX_VALIDITY {
        return Err(ValidationErrors::single("validFor", "must be between 1m and 87600h").into());
    }
    Ok(duration)
}

/// An empty body is an empty request.
async fn optional_json<T: serde::de::DeserializeOwned + Default>(body: Body) -> Result<T> {
    let text = read_text(body).await?;
    if text.trim().is_empty() {
        return Ok(T::default());
    }
    serde_json::from_str(&text)
        .map_err(|error| Error::BadRequest(format!("invalid JSON body: {error}")))
}

fn millis_to_rfc3339(millis: i64) -> String {
    rfc3339(u64::try_from(millis / 1000).unwrap_or(0))
}

fn view(row: &TokenRow) -> TokenView {
    TokenView {
        id: row.id.clone(),
        kind: match row.kind {
            TokenKind::Zone => "zone",
            TokenKind::Dataplane => "dataplane",
        }
        .to_string(),
        mesh: (!row.mesh.is_empty()).then(|| row.mesh.clone()),
        subject: row.subject.clone(),
        tags: row.tags.clone(),
        created_at: millis_to_rfc3339(row.created_at),
        expires_at: millis_to_rfc3339(row.expires_at),
        revoked_at: row.revoked_at.map(millis_to_rfc3339),
    }
}

fn zone_name(zone: &str) -> Result<()> {
    match name_problem(zone) {
        None => Ok(()),
        Some(problem) => Err(ValidationErrors::single("zone", problem).into()),
    }
}

pub async fn issue_zone_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(zone): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<IssuedToken>)> {
    zone_name(&zone)?;
    let request: ZoneTokenRequest = optional_json(body).await?;
    let valid_for = validity(request.valid_for.as_deref())?;
    let (id, token, expires) = state.authority.issue_zone_token(&zone, valid_for)?;
    let row = TokenRow {
        id: id.clone(),
        kind: TokenKind::Zone,
        mesh: String::new(),
        subject: zone.clone(),
        tags: BTreeMap::new(),
        created_at: now_millis(),
        expires_at: i64::try_from(expires).unwrap_or(i64::MAX / 1000) * 1000,
        revoked_at: None,
    };
    state.store.insert_token(&row, &caller.actor()).await?;
    tracing::info!(zone = %zone, token = %id, by = %caller.user, "zone token issued");
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            id,
            token,
            about: view(&row),
        }),
    ))
}

pub async fn list_zone_tokens(
    State(state): State<AppState>,
    Path(zone): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<TokenList>> {
    let list = ListQuery::parse(&query, false)?;
    zone_name(&zone)?;
    let rows = state.store.tokens(TokenKind::Zone, "", Some(&zone)).await?;
    Ok(Json(token_page(&list, &rows)))
}

pub async fn revoke_zone_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((zone, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    revoke(&state, &caller, TokenKind::Zone, "", &zone, &id).await
}

async fn revoke(
    state: &AppState,
    caller: &Caller,
    kind: TokenKind,
    mesh: &str,
    subject: &str,
    id: &str,
) -> Result<StatusCode> {
    let found = state.store.token(id).await?.filter(|row| {
        row.kind == kind && row.mesh == mesh && (subject.is_empty() || row.subject == subject)
    });
    let Some(row) = found else {
        return Err(Error::NotFound(format!("token {id:?}")));
    };
    if row.revoked_at.is_none() {
        state.store.revoke_token(&row, &caller.actor()).await?;
        tracing::info!(token = %id, subject = %row.subject, by = %caller.user, "token revoked");
    }
    Ok(StatusCode::NO_CONTENT)
}

pub async fn issue_dataplane_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(mesh): Path<String>,
    body: Body,
) -> Result<(StatusCode, Json<IssuedToken>)> {
    let text = read_text(body).await?;
    let request: DataplaneTokenRequest = serde_json::from_str(&text)
        .map_err(|error| Error::BadRequest(format!("invalid JSON body: {error}")))?;
    let mut errors = weft_model::error::Errors::new();
    if let Some(problem) = name_problem(&request.service) {
        errors.add("service", problem);
    }
    weft_model::name::check_tags(&mut errors, "tags", request.tags.iter(), false);
    if request
        .tags
        .contains_key(weft_model::dataplane::SERVICE_TAG)
    {
        errors.add("tags.service", "is the token's service; set it as service");
    }
    errors.finish()?;
    let valid_for = validity(request.valid_for.as_deref())?;
    let (id, token, expires) =
        state
            .authority
            .issue_dataplane_token(&mesh, &request.service, &request.tags, valid_for)?;
    let row = TokenRow {
        id: id.clone(),
        kind: TokenKind::Dataplane,
        mesh: mesh.clone(),
        subject: request.service.clone(),
        tags: request.tags.clone(),
        created_at: now_millis(),
        expires_at: i64::try_from(expires).unwrap_or(i64::MAX / 1000) * 1000,
        revoked_at: None,
    };
    state.store.insert_token(&row, &caller.actor()).await?;
    tracing::info!(mesh = %mesh, service = %request.service, token = %id, by = %caller.user, "dataplane token issued");
    Ok((
        StatusCode::CREATED,
        Json(IssuedToken {
            id,
            token,
            about: view(&row),
        }),
    ))
}

pub async fn list_dataplane_tokens(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<TokenList>> {
    let list = ListQuery::parse(&query, false)?;
    let rows = state
        .store
        .tokens(TokenKind::Dataplane, &mesh, None)
        .await?;
    Ok(Json(token_page(&list, &rows)))
}

fn token_page(list: &ListQuery, rows: &[TokenRow]) -> TokenList {
    let page = list.page(rows.iter().map(view).collect(), |token| &token.id);
    TokenList {
        items: page.items,
        continue_token: page.next,
    }
}

pub async fn revoke_dataplane_token(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((mesh, id)): Path<(String, String)>,
) -> Result<StatusCode> {
    revoke(&state, &caller, TokenKind::Dataplane, &mesh, "", &id).await
}
