//! A Rollout's status and history, and the user's actions on it: pause, resume, promote and
//! abort, each judged by the same pure rules the controller uses (409 with the reason when the
//! action does not apply), stored by compare-and-swap with its decision and audit entry.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use weft_api::rollouts::{HistoryEntry, HistoryPage, LiveSample, RolloutFrame, RolloutStatus};
use weft_model::Kind;
use weft_model::canary::{self, Action, RolloutState};

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
    let limit = super::list::limit(&query, 100, MAX_HISTORY_PAGE as usize)? as u32;
    let before = super::list::id_cursor(&query)?;
    let (items, continue_token) = history_page(&state, &mesh, &name, before, limit).await?;
    Ok(Json(HistoryPage {
        items,
        continue_token,
    }))
}

/// Tries of an action that lost a race with the controller before giving up with 409.
const ACTION_ATTEMPTS: usize = 5;

/// Seconds of traffic behind each live sample.
const LIVE_WINDOW: u64 = 10;

/// One frame: the status and the canary's traffic now; `None` once the rollout is gone.
async fn frame(state: &AppState, mesh: &str, name: &str) -> Result<Option<RolloutFrame>> {
    let Some(row) = state.store.get(Kind::Rollout, mesh, name).await? else {
        return Ok(None);
    };
    let spec = crate::rollouts::rollout_spec(&row)?;
    let now = now_millis();
    let seconds = u64::try_from(now / 1000).unwrap_or(0);
    let measured = crate::rollouts::measure(&state.traffic, mesh, &spec, seconds, LIVE_WINDOW);
    Ok(Some(RolloutFrame {
        status: status(state, mesh, name, row.revision).await?,
        live: LiveSample {
            at: now,
            window_seconds: LIVE_WINDOW,
            requests_per_second: measured.requests as f64 / LIVE_WINDOW as f64,
            success_rate: measured.success_rate,
            p99_millis: measured.p99_millis,
        },
    }))
}

/// `GET …/rollouts/{name}/stream`: server-sent events, one `rollout` frame a second (status,
/// newest decisions and the canary's live traffic), ending with `gone` when the rollout is
/// deleted. Counts against the caller's streams like the graph's.
pub async fn stream(
    state: AppState,
    caller: Caller,
    mesh: String,
    name: String,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    // 404 before a stream is opened for nothing.
    let first = frame(&state, &mesh, &name)
        .await?
        .ok_or_else(|| Error::NotFound(format!("Rollout {name:?}")))?;
    let slot = state.graph_hub.admit(&caller.user)?;
    let mut shutdown = state.shutdown.clone();
    let events = async_stream::stream! {
        let _slot = slot;
        let mut next = Some(first);
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        loop {
            match next.take() {
                Some(frame) => match serde_json::to_string(&frame) {
                    Ok(data) => yield Ok(Event::default().event("rollout").data(data)),
                    Err(error) => tracing::error!(%error, "encoding a rollout frame"),
                },
                None => {
                    yield Ok(Event::default().event("gone").data("{}"));
                    break;
                }
            }
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
            match frame(&state, &mesh, &name).await {
                Ok(found) => next = found,
                Err(error) => {
                    tracing::warn!(%error, %mesh, rollout = %name, "rollout stream ends");
                    break;
                }
            }
        }
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
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
    let spec = crate::rollouts::rollout_spec(&row)?;
    let tenant = match state.store.get(Kind::Mesh, "", &mesh).await? {
        Some(mesh_row) => tenant_of(&mesh_row.spec),
        None => String::new(),
    };
    let entry = AuditEntry::new(action.name(), Kind::Rollout.name(), &name)
        .in_tenant(&tenant)
        .in_mesh(&mesh);
    let actor = caller.actor();
    // The controller may move the rollout between our read and our write: then the action is
    // judged again on what it did (a few times, then 409).
    let mut applied = false;
    for _ in 0..ACTION_ATTEMPTS {
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
        if state
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
            applied = true;
            break;
        }
    }
    if !applied {
        return Err(Error::Conflict(
            "the rollout kept moving while the action was made; look at its status and try again"
                .into(),
        ));
    }
    state.rollouts_wake.notify_one();
    Ok(Json(status(&state, &mesh, &name, row.revision).await?))
}
