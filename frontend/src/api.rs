//! Typed client for weft-global's REST API, and the live graph stream.
//!
//! The graph stream is server-sent events read through `fetch`, so the bearer token travels in
//! a header (EventSource cannot set one); it reconnects on its own until cancelled.

use std::cell::Cell;
use std::rc::Rc;

use futures::StreamExt;
use gloo_net::http::{Request, Response};
use serde::de::DeserializeOwned;
use wasm_bindgen::JsCast;
use weft_api::auth::{LoginRequest, LoginResponse};
use weft_api::error::ErrorBody;
use weft_api::graph::Graph;

use crate::session;

#[derive(Clone, Debug, PartialEq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    /// Failing fields, for validation errors.
    pub details: Vec<weft_model::FieldError>,
}

impl ApiError {
    pub fn unauthorized(&self) -> bool {
        self.status == 401
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

fn network(error: gloo_net::Error) -> ApiError {
    ApiError {
        status: 0,
        message: format!("cannot reach weft-global: {error}"),
        details: Vec::new(),
    }
}

async fn decode<T: DeserializeOwned>(response: Response) -> Result<T, ApiError> {
    let status = response.status();
    if (200..300).contains(&status) {
        return response.json::<T>().await.map_err(|error| ApiError {
            status,
            message: format!("unexpected response: {error}"),
            details: Vec::new(),
        });
    }
    let (message, details) = match response.json::<ErrorBody>().await {
        Ok(body) => (body.error.message, body.error.details),
        Err(_) => (format!("request failed with status {status}"), Vec::new()),
    };
    if status == 401 {
        session::clear();
    }
    Err(ApiError {
        status,
        message,
        details,
    })
}

pub async fn login(username: String, password: String) -> Result<LoginResponse, ApiError> {
    let body = LoginRequest { username, password };
    let response = Request::post("/api/v1/auth/login")
        .json(&body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    decode(response).await
}

fn bearer() -> String {
    format!("Bearer {}", session::token().unwrap_or_default())
}

pub async fn get<T: DeserializeOwned>(path: &str) -> Result<T, ApiError> {
    let response = Request::get(path)
        .header("Authorization", &bearer())
        .send()
        .await
        .map_err(network)?;
    decode(response).await
}

/// POST a text body (YAML manifests).
pub async fn post_text<T: DeserializeOwned>(path: &str, body: String) -> Result<T, ApiError> {
    let response = Request::post(path)
        .header("Authorization", &bearer())
        .header("Content-Type", "application/yaml")
        .body(body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    decode(response).await
}

/// Sends `body` as JSON with `method` (POST, PUT, PATCH); the answer decoded as `T`.
pub async fn send_json<T: DeserializeOwned>(
    method: &str,
    path: &str,
    body: &serde_json::Value,
) -> Result<T, ApiError> {
    let request = match method {
        "PUT" => Request::put(path),
        "PATCH" => Request::patch(path),
        _ => Request::post(path),
    };
    let response = request
        .header("Authorization", &bearer())
        .json(body)
        .map_err(network)?
        .send()
        .await
        .map_err(network)?;
    decode(response).await
}

/// Sends `method path` without a body; succeeds on any 2xx.
pub async fn call(method: &str, path: &str) -> Result<(), ApiError> {
    let request = match method {
        "DELETE" => Request::delete(path),
        _ => Request::post(path),
    };
    let response = request
        .header("Authorization", &bearer())
        .send()
        .await
        .map_err(network)?;
    let status = response.status();
    if (200..300).contains(&status) {
        return Ok(());
    }
    decode::<serde_json::Value>(response).await.map(|_| ())
}

/// Path segment escaping for names that came from the server (already DNS labels).
pub fn segment(name: &str) -> String {
    js_sys::encode_uri_component(name)
        .as_string()
        .unwrap_or_default()
}

/// What the live stream reports besides graphs.
#[derive(Clone, Debug, PartialEq)]
pub enum StreamStatus {
    Connecting,
    Live,
    Retrying(String),
}

/// Streams the mesh's graph until `cancelled` is set; calls `on_graph` for every snapshot and
/// `on_status` on connection changes. Reconnects after failures, backing off up to 5 s.
pub async fn follow_graph(
    mesh: String,
    window: String,
    cancelled: Rc<Cell<bool>>,
    abort: web_sys::AbortController,
    on_graph: impl Fn(Graph),
    on_status: impl Fn(StreamStatus),
) {
    let url = format!(
        "/api/v1/meshes/{}/graph/stream?window={}",
        segment(&mesh),
        segment(&window)
    );
    follow(&url, "graph", cancelled, abort, on_graph, on_status).await;
}

/// Follows the server-sent events at `url`, decoding each `event` frame as `T`, until
/// `cancelled` is set; reconnects after failures, backing off up to 5 s.
pub async fn follow<T: DeserializeOwned>(
    url: &str,
    event: &str,
    cancelled: Rc<Cell<bool>>,
    abort: web_sys::AbortController,
    on_item: impl Fn(T),
    on_status: impl Fn(StreamStatus),
) {
    let mut backoff_ms = 500;
    while !cancelled.get() {
        on_status(StreamStatus::Connecting);
        let sent = Request::get(url)
            .header("Authorization", &bearer())
            .header("Accept", "text/event-stream")
            .abort_signal(Some(&abort.signal()))
            .send()
            .await;
        let problem = match sent {
            Ok(response) if response.ok() => match response.body() {
                Some(body) => {
                    on_status(StreamStatus::Live);
                    backoff_ms = 500;
                    read_events(body, event, &cancelled, &on_item).await
                }
                None => "the stream had no body".to_string(),
            },
            Ok(response) => {
                let status = response.status();
                if status == 401 {
                    session::clear();
                    return;
                }
                format!("the server answered {status}")
            }
            Err(error) => error.to_string(),
        };
        if cancelled.get() {
            return;
        }
        on_status(StreamStatus::Retrying(problem));
        gloo_timers::future::TimeoutFuture::new(backoff_ms).await;
        backoff_ms = (backoff_ms * 2).min(5_000);
    }
}

/// Reads `event:`/`data:` frames until the stream ends; returns why it ended.
async fn read_events<T: DeserializeOwned>(
    body: web_sys::ReadableStream,
    event: &str,
    cancelled: &Cell<bool>,
    on_item: &impl Fn(T),
) -> String {
    let mut chunks = wasm_streams::ReadableStream::from_raw(body.unchecked_into()).into_stream();
    let mut buffer: Vec<u8> = Vec::new();
    // How far the buffer is known to hold no frame end: a large frame arriving in many chunks
    // is scanned once, not once per chunk.
    let mut scanned = 0;
    while let Some(chunk) = chunks.next().await {
        if cancelled.get() {
            return "cancelled".into();
        }
        let chunk = match chunk {
            Ok(chunk) => js_sys::Uint8Array::new(&chunk).to_vec(),
            Err(_) => return "the stream was interrupted".into(),
        };
        buffer.extend_from_slice(&chunk);
        while let Some(end) = find_frame_end(&buffer[scanned..]).map(|end| end + scanned) {
            let frame: Vec<u8> = buffer.drain(..end + 2).collect();
            scanned = 0;
            if let Some(item) = parse_frame(&String::from_utf8_lossy(&frame), event) {
                on_item(item);
            }
        }
        // The last byte may be the first half of "\n\n".
        scanned = buffer.len().saturating_sub(1);
    }
    "the server closed the stream".into()
}

fn find_frame_end(buffer: &[u8]) -> Option<usize> {
    buffer.windows(2).position(|pair| pair == b"\n\n")
}

/// What one SSE frame carries, if it is an event named `wanted`.
pub fn parse_frame<T: DeserializeOwned>(frame: &str, wanted: &str) -> Option<T> {
    let mut event = "message";
    let mut data = String::new();
    for line in frame.lines() {
        if let Some(name) = line.strip_prefix("event:") {
            event = name.trim();
        } else if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    if event != wanted || data.is_empty() {
        return None;
    }
    serde_json::from_str(&data).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_graph_frames_and_ignores_the_rest() {
        let frame = "event: graph\ndata: {\"mesh\":\"shop\",\"windowSeconds\":10,\"generatedAt\":\"t\",\"nodes\":[],\"edges\":[]}\n\n";
        assert_eq!(parse_frame::<Graph>(frame, "graph").unwrap().mesh, "shop");
        assert!(parse_frame::<Graph>(": keep-alive\n\n", "graph").is_none());
        assert!(parse_frame::<Graph>("event: other\ndata: {}\n\n", "graph").is_none());
        assert!(parse_frame::<Graph>("event: graph\ndata: not json\n\n", "graph").is_none());
        assert_eq!(find_frame_end(b"a\n\nb"), Some(1));
    }
}
