//! AccessLog: one line per request, written when the response ends, to stdout, a file
//! (reopened when it is rotated away) or a TCP collector, as JSON or text. Lines go through a
//! bounded queue to one writer task per destination; when the destination cannot keep up,
//! lines are dropped and counted rather than slowing requests down.
//!
//! Fields (JSON names): `startTime` (RFC 3339), `direction`, `method`, `path`, `authority`,
//! `protocol`, `status`, `durationMs`, `requestBytes`, `responseBytes`, `upstream` (the endpoint
//! address), `source` and `destination` (service identities; `source` is empty for traffic
//! from outside the mesh), `traceId`, `grpcStatus`.

use std::collections::HashMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body::Body as _;
use serde_json::json;
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tower::Layer;
use weft_model::policy::access_log::{AccessLogConf, Format, LogBackend};

use super::balance::Served;
use crate::observe::observe;
use crate::stack::{Request, ResponseFuture, Stack};
use crate::telemetry::Direction;

const QUEUE: usize = 8192;

/// A destination's queue and its writer task.
pub struct Sink {
    lines: mpsc::Sender<String>,
    pub dropped: AtomicU64,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Sink {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
enum Destination {
    Stdout,
    File(PathBuf),
    Tcp(String),
}

fn destination(backend: &LogBackend) -> Option<Destination> {
    if backend.stdout.is_some() {
        Some(Destination::Stdout)
    } else if let Some(file) = &backend.file {
        Some(Destination::File(PathBuf::from(&file.path)))
    } else {
        backend
            .tcp
            .as_ref()
            .map(|tcp| Destination::Tcp(tcp.address.clone()))
    }
}

/// Sinks by destination, shared by config versions.
#[derive(Default)]
pub struct Sinks {
    known: Mutex<HashMap<Destination, Arc<Sink>>>,
}

impl Sinks {
    fn get(&self, destination: &Destination) -> Arc<Sink> {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(destination.clone())
            .or_insert_with(|| {
                let (lines, receiver) = mpsc::channel(QUEUE);
                let task = tokio::spawn(write(destination.clone(), receiver));
                Arc::new(Sink {
                    lines,
                    dropped: AtomicU64::new(0),
                    task,
                })
            })
            .clone()
    }

    /// Closes the sinks no config uses any more.
    pub fn retain_used(&self) {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, sink| Arc::strong_count(sink) > 1);
    }

    /// Lines dropped so far, over every sink.
    pub fn dropped(&self) -> u64 {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .map(|sink| sink.dropped.load(Relaxed))
            .sum()
    }
}

async fn write(destination: Destination, mut lines: mpsc::Receiver<String>) {
    match destination {
        Destination::Stdout => {
            while let Some(line) = lines.recv().await {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes());
                let _ = out.flush();
            }
        }
        Destination::File(path) => write_file(path, lines).await,
        Destination::Tcp(address) => write_tcp(address, lines).await,
    }
}

async fn write_file(path: PathBuf, mut lines: mpsc::Receiver<String>) {
    use std::os::unix::fs::MetadataExt;
    let open = |path: &PathBuf| {
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(
                |error| tracing::warn!(path = %path.display(), %error, "cannot open access log"),
            )
            .ok()
    };
    let mut file = open(&path);
    let mut checked = Instant::now();
    while let Some(line) = lines.recv().await {
        // A rotated file (moved away or removed) is replaced by a new one at the path.
        if checked.elapsed() >= Duration::from_secs(1) || file.is_none() {
            checked = Instant::now();
            let current = std::fs::metadata(&path).ok().map(|m| m.ino());
            let open_inode = file
                .as_ref()
                .and_then(|f| f.metadata().ok())
                .map(|m| m.ino());
            if current.is_none() || current != open_inode {
                file = open(&path);
            }
        }
        if let Some(out) = file.as_mut()
            && out.write_all(line.as_bytes()).is_err()
        {
            file = None;
        }
    }
}

async fn write_tcp(address: String, mut lines: mpsc::Receiver<String>) {
    let mut stream: Option<tokio::net::TcpStream> = None;
    let mut retry_at = Instant::now();
    while let Some(line) = lines.recv().await {
        if stream.is_none() && Instant::now() >= retry_at {
            match tokio::time::timeout(
                Duration::from_secs(2),
                tokio::net::TcpStream::connect(&address),
            )
            .await
            {
                Ok(Ok(connected)) => stream = Some(connected),
                _ => {
                    tracing::debug!(%address, "access log collector unreachable");
                    retry_at = Instant::now() + Duration::from_secs(1);
                }
            }
        }
        if let Some(out) = stream.as_mut()
            && out.write_all(line.as_bytes()).await.is_err()
        {
            stream = None;
        }
    }
}

#[derive(Clone)]
struct Target {
    sink: Arc<Sink>,
    format: Format,
}

impl Target {
    fn new(sinks: &Sinks, conf: &AccessLogConf) -> Option<Target> {
        let destination = destination(conf.backend.as_ref()?)?;
        Some(Target {
            sink: sinks.get(&destination),
            format: conf.format.unwrap_or(Format::Text),
        })
    }
}

#[derive(Clone)]
pub struct AccessLogLayer {
    default: Option<Target>,
    /// Inbound only: settings for calls from named sources.
    sources: Arc<HashMap<String, Target>>,
    direction: Direction,
    /// The service on the other side: the outbound's, or this inbound's own.
    service: Arc<str>,
    /// For inbound traffic: this proxy's service is the destination.
    own_service: Arc<str>,
}

impl AccessLogLayer {
    pub fn outbound(
        sinks: &Sinks,
        conf: Option<&AccessLogConf>,
        service: &str,
        own_service: &str,
    ) -> Option<AccessLogLayer> {
        Some(AccessLogLayer {
            default: Some(Target::new(sinks, conf?)?),
            sources: Arc::default(),
            direction: Direction::Outbound,
            service: Arc::from(service),
            own_service: Arc::from(own_service),
        })
    }

    pub fn inbound(
        sinks: &Sinks,
        conf: &weft_model::proxy::PerSource<AccessLogConf>,
        own_service: &str,
    ) -> Option<AccessLogLayer> {
        if conf.is_empty() {
            return None;
        }
        Some(AccessLogLayer {
            default: conf.default.as_ref().and_then(|c| Target::new(sinks, c)),
            sources: Arc::new(
                conf.sources
                    .iter()
                    .filter_map(|(source, c)| Some((source.clone(), Target::new(sinks, c)?)))
                    .collect(),
            ),
            direction: Direction::Inbound,
            service: Arc::from(own_service),
            own_service: Arc::from(own_service),
        })
    }
}

#[derive(Clone)]
pub struct AccessLog {
    inner: Stack,
    layer: AccessLogLayer,
}

impl Layer<Stack> for AccessLogLayer {
    type Service = AccessLog;

    fn layer(&self, inner: Stack) -> AccessLog {
        AccessLog {
            inner,
            layer: self.clone(),
        }
    }
}

/// One line's fields.
struct Entry {
    start: jiff::Timestamp,
    direction: Direction,
    method: http::Method,
    path: String,
    authority: String,
    protocol: http::Version,
    status: u16,
    duration: Duration,
    request_bytes: u64,
    response_bytes: u64,
    upstream: String,
    source: String,
    destination: String,
    trace_id: String,
    grpc_status: Option<u32>,
}

impl Entry {
    fn format(&self, format: Format) -> String {
        match format {
            Format::Json => {
                let mut line = json!({
                    "startTime": self.start.to_string(),
                    "direction": self.direction.label(),
                    "method": self.method.as_str(),
                    "path": self.path,
                    "authority": self.authority,
                    "protocol": format!("{:?}", self.protocol),
                    "status": self.status,
                    "durationMs": self.duration.as_secs_f64() * 1000.0,
                    "requestBytes": self.request_bytes,
                    "responseBytes": self.response_bytes,
                    "upstream": self.upstream,
                    "source": self.source,
                    "destination": self.destination,
                    "traceId": self.trace_id,
                    "grpcStatus": self.grpc_status,
                })
                .to_string();
                line.push('\n');
                line
            }
            Format::Text => format!(
                "[{}] {} \"{} {} {:?}\" {} {} {} {:.3}ms \"{}\" {} {}->{} {}{}\n",
                self.start,
                self.direction.label(),
                self.method,
                self.path,
                self.protocol,
                self.status,
                self.request_bytes,
                self.response_bytes,
                self.duration.as_secs_f64() * 1000.0,
                self.authority,
                if self.upstream.is_empty() {
                    "-"
                } else {
                    &self.upstream
                },
                if self.source.is_empty() {
                    "-"
                } else {
                    &self.source
                },
                self.destination,
                if self.trace_id.is_empty() {
                    "-"
                } else {
                    &self.trace_id
                },
                self.grpc_status
                    .map(|status| format!(" grpc-status={status}"))
                    .unwrap_or_default(),
            ),
        }
    }
}

/// The trace id of a W3C `traceparent` header.
pub fn trace_id(request: &Request) -> String {
    request
        .headers()
        .get("traceparent")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.get(3..35))
        .unwrap_or_default()
        .to_string()
}

impl AccessLog {
    fn serve(&self, request: Request) -> ResponseFuture {
        let layer = &self.layer;
        let target = crate::source::verified(&request)
            .and_then(|source| layer.sources.get(source))
            .or(layer.default.as_ref())
            .cloned();
        let Some(target) = target else {
            return self.inner.call(request);
        };
        let started = Instant::now();
        let header = |name: &str| {
            request
                .headers()
                .get(name)
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_string()
        };
        let (source, destination) = match layer.direction {
            Direction::Outbound => (layer.own_service.to_string(), layer.service.to_string()),
            Direction::Inbound => (
                crate::source::verified(&request)
                    .unwrap_or_default()
                    .to_string(),
                layer.own_service.to_string(),
            ),
        };
        let authority = request
            .uri()
            .authority()
            .map(|authority| authority.to_string())
            .unwrap_or_else(|| header("host"));
        let mut entry = Entry {
            start: jiff::Timestamp::now(),
            direction: layer.direction,
            method: request.method().clone(),
            path: request
                .uri()
                .path_and_query()
                .map_or("/", |path| path.as_str())
                .to_string(),
            authority,
            protocol: request.version(),
            status: 0,
            duration: Duration::ZERO,
            request_bytes: request.body().size_hint().exact().unwrap_or(0),
            response_bytes: 0,
            upstream: String::new(),
            source,
            destination,
            trace_id: trace_id(&request),
            grpc_status: None,
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            entry.status = response.status().as_u16();
            if let Some(served) = response.extensions().get::<Served>() {
                entry.upstream = served.endpoint.address.to_string();
            }
            Ok(observe(response, move |summary| {
                entry.duration = started.elapsed();
                entry.response_bytes = summary.bytes;
                entry.grpc_status = summary.grpc_status;
                if target
                    .sink
                    .lines
                    .try_send(entry.format(target.format))
                    .is_err()
                {
                    target.sink.dropped.fetch_add(1, Relaxed);
                }
            }))
        })
    }
}

crate::stack_service!(AccessLog);
