//! The traffic graph: one snapshot, or a live server-sent event stream of snapshots.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures::Stream;
use weft_api::graph::Graph;
use weft_model::duration::Duration as ModelDuration;

use super::AppState;
use super::inventory::instances;
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

async fn snapshot(state: &AppState, mesh: &str, window: u64) -> Result<Graph> {
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

/// Sends the graph once a second (window 10 s unless `?window=` says otherwise). Instances are
/// reloaded only when the store changed; the stream ends when the server shuts down.
pub async fn stream(
    State(state): State<AppState>,
    Path(mesh): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>> {
    let window = window_seconds(&query, DEFAULT_STREAM_WINDOW)?;
    let mut shutdown = state.shutdown.clone();
    let mut revisions = state.store.subscribe();
    let events = async_stream::stream! {
        let mut cached = instances(&state, &mesh).await.unwrap_or_default();
        let mut ticker = tokio::time::interval(Duration::from_secs(1));
        loop {
            tokio::select! {
                _ = ticker.tick() => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
            if revisions.has_changed().unwrap_or(false) {
                revisions.borrow_and_update();
                match instances(&state, &mesh).await {
                    Ok(fresh) => cached = fresh,
                    Err(error) => tracing::warn!(%error, "graph stream could not reload instances"),
                }
            }
            let traffic = state.traffic.window(&mesh, now_second(), window);
            let graph = build_graph(&mesh, window, jiff::Timestamp::now().to_string(), &cached, &traffic, state.thresholds);
            match Event::default().event("graph").json_data(&graph) {
                Ok(event) => yield Ok(event),
                Err(error) => tracing::error!(%error, "encoding graph event failed"),
            }
        }
    };
    Ok(Sse::new(events).keep_alive(KeepAlive::default()))
}
