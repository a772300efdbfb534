//! The traffic graph: one snapshot, or a live server-sent event stream of snapshots.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use weft_api::graph::Graph;
use weft_model::duration::Duration as ModelDuration;

use super::AppState;
use super::inventory::instances;
use crate::access::Caller;
use crate::error::{Error, Result};
use crate::traffic::build_graph;

const DEFAULT_WINDOW: u64 = 60;
const DEFAULT_STREAM_WINDOW: u64 = 10;
const MAX_WINDOW: u64 = crate::traffic::window::RETENTION_SECONDS;

fn window_seconds(query: &HashMap<String, String>, default: u64) -> Result<u64> {
    let Some(text) = query.get("window") else {
        return Ok(default);
    };
    let parsed = ModelDuration::parse(text)
        .map_err(|problem| Error::BadRequest(format!("window: {problem}")))?;
    let seconds = parsed.as_std().as_secs();
    if !(1..=MAX_WINDOW).contains(&seconds) {
        return Err(Error::BadRequest(format!(
            "window must be between 1s and {MAX_WINDOW}s"
        )));
    }
    Ok(seconds)
}

fn now_second() -> u64 {
    u64::try_from(jiff::Timestamp::now().as_second()).unwrap_or(0)
}

pub async fn snapshot(state: &AppState, mesh: &str, window: u64) -> Result<Graph> {
    snapshot_ago(state, mesh, window, 0).await
}

/// The graph as it was `ago` seconds ago (0: now), from the stored window.
async fn snapshot_ago(state: &AppState, mesh: &str, window: u64, ago: u64) -> Result<Graph> {
    let instances = instances(state, mesh).await?;
    let at = now_second().saturating_sub(ago);
    let traffic = state.traffic.window(mesh, at, window);
    let generated_at = jiff::Timestamp::from_second(i64::try_from(at).unwrap_or(0))
        .map(|at| at.to_string())
        .unwrap_or_default();
    Ok(build_graph(
        mesh,
        window,
        generated_at,
        &instances,
        &traffic,
        state.thresholds,
    ))
}

/// `?ago=`: how far back the graph ends (replay); the window must still fit in what is kept.
fn ago_seconds(query: &HashMap<String, String>, window: u64) -> Result<u64> {
    let Some(text) = query.get("ago") else {
        return Ok(0);
    };
    let ago = ModelDuration::parse(text)
        .map_err(|problem| Error::BadRequest(format!("ago: {problem}")))?
        .as_std()
        .as_secs();
    if ago + window > MAX_WINDOW {
        return Err(Error::BadRequest(format!(
            "ago plus window must be at most {MAX_WINDOW}s (what the graph keeps)"
        )));
    }
    Ok(ago)
}

pub async fn graph(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Graph>> {
    let window = window_seconds(&query, DEFAULT_WINDOW)?;
    let ago = ago_seconds(&query, window)?;
    Ok(Json(snapshot_ago(&state, &mesh, window, ago).await?))
}

/// Sends the graph once a second (window 10 s unless `?window=` says otherwise), from the
/// feed every stream of the same mesh and window shares. At most
/// [`super::graph_hub::MAX_STREAMS_PER_USER`] streams per user (429 past that); the stream ends
/// when the server shuts down.
pub async fn stream(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(mesh): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let window = window_seconds(&query, DEFAULT_STREAM_WINDOW)?;
    let slot = state.graph_hub.admit(&caller.user)?;
    let mut shutdown = state.shutdown.clone();
    let mut graphs = state.graph_hub.watch(&state, &mesh, window);
    let events = async_stream::stream! {
        let _slot = slot;
        loop {
            let latest = graphs.borrow_and_update().clone();
            if let Some(encoded) = latest {
                yield Ok(Event::default().event("graph").data(encoded.as_str()));
            }
            tokio::select! {
                changed = graphs.changed() => if changed.is_err() { break },
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
