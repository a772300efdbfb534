//! One service instance of the shop.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::IntoResponse;
use axum::{Json, Router};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

#[derive(clap::Args)]
pub struct AppArgs {
    #[arg(long)]
    service: String,
    #[arg(long, default_value = "v1")]
    version: String,
    #[arg(long, default_value = "")]
    zone: String,
    #[arg(long)]
    listen: SocketAddr,
    /// Downstream call, `name=http://127.0.0.1:PORT` (the sidecar's outbound port); repeatable.
    #[arg(long = "call", value_parser = parse_call)]
    calls: Vec<(String, String)>,
    /// Share of requests answered with 500, in percent.
    #[arg(long, default_value_t = 0.0)]
    error_percent: f64,
    /// Extra time spent on each request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
}

fn parse_call(text: &str) -> Result<(String, String), String> {
    let (name, url) = text
        .split_once('=')
        .ok_or("expected name=http://host:port")?;
    url.parse::<Uri>()
        .map_err(|error| format!("invalid URL {url:?}: {error}"))?;
    Ok((name.to_string(), url.trim_end_matches('/').to_string()))
}

struct Instance {
    args: AppArgs,
    client: Client<HttpConnector, Empty<Bytes>>,
}

pub async fn run(args: AppArgs) -> anyhow::Result<()> {
    if !(0.0..=100.0).contains(&args.error_percent) {
        anyhow::bail!("--error-percent must be between 0 and 100");
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let instance = Arc::new(Instance { args, client });
    let app = Router::new()
        .route("/health", axum::routing::get(|| async { "ok\n" }))
        .fallback(handle)
        .with_state(instance);
    axum::serve(listener, app)
        .with_graceful_shutdown(crate::shutdown_signal())
        .await?;
    Ok(())
}

/// Request headers an application passes on to the services it calls, as real ones do for
/// tracing and routing: the trace context, the user, and the canary opt-in.
const PROPAGATED: [&str; 5] = [
    "traceparent",
    "tracestate",
    "x-request-id",
    "x-user-id",
    "x-canary",
];

async fn call(
    instance: &Instance,
    name: &str,
    base: &str,
    path: &str,
    headers: &HeaderMap,
) -> (bool, Value) {
    let uri: Uri = match format!("{base}{path}").parse() {
        Ok(uri) => uri,
        Err(error) => return (false, json!({"service": name, "error": error.to_string()})),
    };
    let mut request = hyper::Request::get(uri);
    for header in PROPAGATED {
        if let Some(value) = headers.get(header) {
            request = request.header(header, value);
        }
    }
    let request = request.body(Empty::<Bytes>::new());
    let Ok(request) = request else {
        return (
            false,
            json!({"service": name, "error": "cannot build request"}),
        );
    };
    let response =
        tokio::time::timeout(Duration::from_secs(10), instance.client.request(request)).await;
    match response {
        Ok(Ok(response)) => {
            let status = response.status();
            let body = response
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            let mut value = serde_json::from_slice(&body)
                .unwrap_or_else(|_| json!({"service": name, "error": String::from_utf8_lossy(&body).trim().to_string()}));
            value["status"] = json!(status.as_u16());
            (status.is_success(), value)
        }
        Ok(Err(error)) => (false, json!({"service": name, "error": error.to_string()})),
        Err(_) => (false, json!({"service": name, "error": "timed out"})),
    }
}

async fn handle(
    State(instance): State<Arc<Instance>>,
    uri: Uri,
    headers: HeaderMap,
) -> impl IntoResponse {
    if instance.args.latency_ms > 0 {
        tokio::time::sleep(Duration::from_millis(instance.args.latency_ms)).await;
    }
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let calls = futures::future::join_all(
        instance
            .args
            .calls
            .iter()
            .map(|(name, base)| call(&instance, name, base, &path, &headers)),
    )
    .await;
    let all_ok = calls.iter().all(|(ok, _)| *ok);
    let failed_here =
        instance.args.error_percent > 0.0 && fastrand::f64() * 100.0 < instance.args.error_percent;
    let status = if failed_here {
        StatusCode::INTERNAL_SERVER_ERROR
    } else if all_ok {
        StatusCode::OK
    } else {
        StatusCode::BAD_GATEWAY
    };
    let mut body = json!({
        "service": instance.args.service,
        "version": instance.args.version,
        "zone": instance.args.zone,
        "calls": calls.into_iter().map(|(_, value)| value).collect::<Vec<_>>(),
    });
    // The trace this request belongs to, when a proxy traces it.
    if let Some(trace) = headers
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.get(3..35))
    {
        body["traceId"] = json!(trace);
    }
    if failed_here {
        body["error"] = json!("injected failure (--error-percent)");
    }
    (status, Json(body))
}
