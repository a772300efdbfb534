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
    let instances = instances(state, mesh).await?;
    let traffic = state.traffic.window(mesh, now_second(), window);
    Ok(build_graph(
        mesh,
        window,
        jiff::Timestamp::now().to_string(),
        &instances,
        &traffic,
        state.thresholds,
    ))
}

pub async fn graph(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Json<Graph>> {
    let window = window_seconds(&query, DEFAULT_WINDOW)?;
    Ok(Json(snapshot(&state, &mesh, window).await?))
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
