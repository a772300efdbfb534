//! Clients to upstream endpoints: HTTP/1.1 or HTTP/2 (prior knowledge) over pooled TCP
//! connections, with the connect timeout, idle timeout and connection limit of their outbound.
//! Clients are cached by their settings, so a new config version keeps the open connections.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::body::{Body, BoxError};

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// How connections to one outbound's endpoints are made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientSettings {
    /// The outbound service; connection limits are per outbound.
    pub service: String,
    pub http2: bool,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: Option<usize>,
}

#[derive(Clone)]
pub struct UpstreamClient {
    pub http2: bool,
    inner: Arc<hyper_util::client::legacy::Client<Connector, Body>>,
}

impl UpstreamClient {
    fn new(settings: &ClientSettings) -> UpstreamClient {
        let mut http = HttpConnector::new();
        http.set_nodelay(true);
        http.set_connect_timeout(Some(settings.connect_timeout));
        http.set_keepalive(Some(Duration::from_secs(60)));
        let connector = Connector {
            http,
            limit: settings
                .max_connections
                .map(|limit| Arc::new(Semaphore::new(limit))),
        };
        let mut builder = hyper_util::client::legacy::Client::builder(TokioExecutor::new());
        builder
            .pool_idle_timeout(settings.idle_timeout)
            .pool_max_idle_per_host(256)
            .pool_timer(TokioTimer::new())
            .timer(TokioTimer::new())
            .http2_only(settings.http2);
        if settings.http2 {
            builder
                .http2_keep_alive_interval(Duration::from_secs(30))
                .http2_keep_alive_timeout(Duration::from_secs(10))
                .http2_max_concurrent_reset_streams(256);
        }
        UpstreamClient {
            http2: settings.http2,
            inner: Arc::new(builder.build(connector)),
        }
    }

    pub fn request(
        &self,
        request: http::Request<Body>,
    ) -> hyper_util::client::legacy::ResponseFuture {
        self.inner.request(request)
    }
}

/// An outbound's clients for both HTTP versions: a request goes upstream in the version it
/// arrived in.
#[derive(Clone)]
pub struct ClientPair {
    pub http1: UpstreamClient,
    pub http2: UpstreamClient,
}

impl ClientPair {
    pub fn for_version(&self, version: http::Version) -> &UpstreamClient {
        if version == http::Version::HTTP_2 {
            &self.http2
        } else {
            &self.http1
        }
    }
}

/// Clients by settings, shared by config versions.
#[derive(Default)]
pub struct Clients {
    known: Mutex<HashMap<ClientSettings, UpstreamClient>>,
}

impl Clients {
    pub fn get(&self, settings: &ClientSettings) -> UpstreamClient {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(settings.clone())
            .or_insert_with(|| UpstreamClient::new(settings))
            .clone()
    }

    /// Clients of both versions for `settings` (its `http2` is ignored).
    pub fn pair(&self, settings: &ClientSettings) -> ClientPair {
        ClientPair {
            http1: self.get(&ClientSettings {
                http2: false,
                ..settings.clone()
            }),
            http2: self.get(&ClientSettings {
                http2: true,
                ..settings.clone()
            }),
        }
    }

    /// Keeps only the clients of `used` settings (their pools close with them).
    pub fn retain(&self, used: &[ClientSettings]) {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|settings, _| used.contains(settings));
    }
}

/// TCP connector that holds a permit of the outbound's connection limit for as long as the
/// connection lives.
#[derive(Clone)]
struct Connector {
    http: HttpConnector,
    limit: Option<Arc<Semaphore>>,
}

impl tower::Service<Uri> for Connector {
    type Response = LimitedIo;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<LimitedIo, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        tower::Service::<Uri>::poll_ready(&mut self.http, cx).map_err(Into::into)
    }

    fn call(&mut self, uri: Uri) -> Self::Future {
        let mut http = self.http.clone();
        let limit = self.limit.clone();
        Box::pin(async move {
            let permit = match limit {
                Some(limit) => Some(limit.acquire_owned().await?),
                None => None,
            };
            let io = tower::Service::call(&mut http, uri).await?;
            Ok(LimitedIo {
                io,
                _permit: permit,
            })
        })
    }
}

struct LimitedIo {
    io: TokioIo<TcpStream>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Connection for LimitedIo {
    fn connected(&self) -> Connected {
        self.io.connected()
    }
}

impl Read for LimitedIo {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_read(cx, buf)
    }
}

impl Write for LimitedIo {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
}
