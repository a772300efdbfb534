//! A Rollout's status and history, and the user's actions on it: pause, resume, promote and
//! abort, each judged by the same pure rules the controller uses (409 with the reason when the
//! action does not apply), stored by compare-and-swap with its decision and audit entry.

use std::collections::HashMap;

use axum::Json;
use weft_api::rollouts::{HistoryEntry, HistoryPage, RolloutStatus};
use weft_model::Kind;
use weft_model::canary::{self, Action, RolloutState};
use weft_model::resource::Spec;
use weft_model::rollout::RolloutSpec;

use super::AppState;
use crate::access::Caller;
use crate::auth::rfc3339;
use crate::error::{Error, Result};
use crate::store::{AuditEntry, HistoryRow, now_millis, tenant_of};

/// Decisions shown in a status; older ones page through `…/history`.
const STATUS_HISTORY: u32 = 20;
const MAX_HISTORY_PAGE: u32 = 1000;

fn entry(row: HistoryRow) -> HistoryEntry {
    HistoryEntry {
        id: row.id.to_string(),
        at: rfc3339(u64::try_from(row.at / 1000).unwrap_or(0)),
        generation: row.generation.to_string(),
        decision: row.decision,
    }
}

/// One page of history, newest first, and where the next one starts.
async fn history_page(
    state: &AppState,
    mesh: &str,
    name: &str,
    before: Option<i64>,
    limit: u32,
) -> Result<(Vec<HistoryEntry>, Option<String>)> {
    let rows = state
        .store
        .rollout_history(mesh, name, before, limit.saturating_add(1))
        .await?;
    let more = rows.len() > limit as usize;
    let rows: Vec<HistoryRow> = rows.into_iter().take(limit as usize).collect();
    let next = more
        .then(|| rows.last().map(|row| row.id.to_string()))
        .flatten();
    Ok((rows.into_iter().map(entry).collect(), next))
}

/// The status of a Rollout: where it stands (not started when the controller has not seen
/// it yet) and its newest decisions.
pub async fn status(
    state: &AppState,
    mesh: &str,
    name: &str,
    generation: u64,
) -> Result<RolloutStatus> {
    let stored = state
        .store
        .rollout_state(mesh, name)
        .await?
        .map(|row| row.state)
        .filter(|stored| stored.generation == generation)
        .unwrap_or_else(|| RolloutState::new(generation, now_millis()));
    let (history, history_continue) = history_page(state, mesh, name, None, STATUS_HISTORY).await?;
    Ok(RolloutStatus {
        state: stored,
        history,
        history_continue,
    })
}

/// `GET …/rollouts/{name}/history?limit=&continue=`.
pub async fn history(
    state: AppState,
    mesh: String,
    name: String,
    query: HashMap<String, String>,
) -> Result<Json<HistoryPage>> {
    state
        .store
        .get(Kind::Rollout, &mesh, &name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Rollout {name:?}")))?;
    let limit = match query.get("limit") {
        None => 100,
        Some(text) => text
            .parse::<u32>()
            .ok()
            .filter(|limit| (1..=MAX_HISTORY_PAGE).contains(limit))
            .ok_or_else(|| {
                Error::BadRequest(format!(
                    "query parameter limit must be between 1 and {MAX_HISTORY_PAGE}"
                ))
            })?,
    };
    let before = query
        .get("continue")
        .map(|text| {
            text.parse::<i64>().map_err(|_| {
                Error::BadRequest(
                    "query parameter continue must be the continue of a previous page".into(),
                )
            })
        })
        .transpose()?;
    let (items, continue_token) = history_page(&state, &mesh, &name, before, limit).await?;
    Ok(Json(HistoryPage {
        items,
        continue_token,
    }))
}

/// `POST …/rollouts/{name}/{pause|resume|promote|abort}`: the new status.
pub async fn act(
    action: Action,
    state: AppState,
    caller: Caller,
    mesh: String,
    name: String,
) -> Result<Json<RolloutStatus>> {
    let row = state
        .store
        .get(Kind::Rollout, &mesh, &name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Rollout {name:?}")))?;
    let spec: RolloutSpec = match row.to_resource()?.spec {
        Spec::Rollout(spec) => spec,
        _ => return Err(Error::Internal("a Rollout row holds another kind".into())),
    };
    let now = now_millis();
    // The controller may not have seen the rollout (or its new spec) yet: act on a fresh one.
    let (current, expected) = match state.store.rollout_state(&mesh, &name).await? {
        Some(stored) if stored.state.generation == row.revision => {
            (stored.state, Some(stored.version))
        }
        Some(stored) => (RolloutState::new(row.revision, now), Some(stored.version)),
        None => (RolloutState::new(row.revision, now), None),
    };
    let (next, decision) =
        canary::act(&spec, &current, action, &caller.user, now).map_err(Error::Conflict)?;
    let tenant = match state.store.get(Kind::Mesh, "", &mesh).await? {
        Some(mesh_row) => tenant_of(&mesh_row.spec),
        None => String::new(),
    };
    let entry = AuditEntry::new(action.name(), Kind::Rollout.name(), &name)
        .in_tenant(&tenant)
        .in_mesh(&mesh);
    let actor = caller.actor();
    if !state
        .store
        .advance_rollout(
            &mesh,
            &name,
            expected,
            &next,
            &[decision],
            Some((&actor, &entry)),
        )
        .await?
    {
        return Err(Error::Conflict(
            "the rollout moved while the action was made; look at its status and try again".into(),
        ));
    }
    state.rollouts_wake.notify_one();
    Ok(Json(status(&state, &mesh, &name, row.revision).await?))
}
