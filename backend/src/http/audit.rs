//! `GET /api/v1/audit`: who wrote what, when, from where. Platform admins read every entry;
//! tenant owners read their tenants' entries; everyone else gets 403.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Extension, Query, State};
use weft_api::audit::{AuditEntry, AuditPage};

use super::AppState;
use crate::access::Caller;
use crate::error::{Error, Result};
use crate::store::{AuditQuery, AuditRow};

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

fn timestamp(query: &HashMap<String, String>, name: &str) -> Result<Option<i64>> {
    query
        .get(name)
        .map(|text| {
            text.parse::<jiff::Timestamp>()
                .map(|at| at.as_millisecond())
                .map_err(|_| {
                    Error::BadRequest(format!(
                        "query parameter {name} must be an RFC 3339 time, e.g. 2026-12-02T10:00:00Z"
                    ))
                })
        })
        .transpose()
}

fn text(query: &HashMap<String, String>, name: &str) -> Result<Option<String>> {
    match query.get(name) {
        Some(value) if value.is_empty() || value.len() > 128 => Err(Error::BadRequest(format!(
            "query parameter {name} must be 1 to 128 characters"
        ))),
        value => Ok(value.cloned()),
    }
}

fn entry(row: AuditRow) -> AuditEntry {
    let some = |text: String| (!text.is_empty()).then_some(text);
    AuditEntry {
        id: row.id,
        at: jiff::Timestamp::from_millisecond(row.at)
            .map(|at| at.to_string())
            .unwrap_or_default(),
        user: row.actor.user,
        token_id: row.actor.token,
        address: row.actor.address,
        action: row.entry.action,
        tenant: some(row.entry.tenant),
        mesh: some(row.entry.mesh),
        kind: row.entry.kind,
        name: row.entry.name,
        before_version: row.entry.before_version.map(|version| version.to_string()),
        after_version: row.entry.after_version.map(|version| version.to_string()),
    }
}

pub async fn list(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<AuditPage>> {
    let tenants = caller.owned_tenants();
    if tenants.as_ref().is_some_and(Vec::is_empty) {
        return Err(Error::Forbidden(
            "the audit log is for platform admins and tenant owners",
        ));
    }
    let limit = super::list::limit(&query, DEFAULT_LIMIT as usize, MAX_LIMIT as usize)? as u32;
    let before_id = super::list::id_cursor(&query)?;
    let request = AuditQuery {
        tenants,
        tenant: text(&query, "tenant")?,
        mesh: text(&query, "mesh")?,
        user: text(&query, "user")?,
        kind: text(&query, "kind")?,
        since: timestamp(&query, "since")?,
        until: timestamp(&query, "until")?,
        before_id,
        limit,
    };
    let rows = state.store.audit_entries(&request).await?;
    let next = (rows.len() == limit as usize)
        .then(|| rows.last().map(|row| row.id.to_string()))
        .flatten();
    Ok(Json(AuditPage {
        items: rows.into_iter().map(entry).collect(),
        continue_token: next,
    }))
}
