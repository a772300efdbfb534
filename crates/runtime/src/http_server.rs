//! How every Weft HTTP server serves: HTTP/1.1 and HTTP/2 (prior knowledge) with limits against
//! slow or abusive clients — the proxy's listeners, and the control planes' HTTP ports
//! ([`serve`]).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Limits of every listener. The defaults suit a sidecar and a control plane alike; flags
/// change the main ones.
#[derive(Clone, Debug)]
pub struct ServerLimits {
    /// Time a client has to send a request's headers (also closes idle HTTP/1.1 connections).
    pub header_read_timeout: Duration,
    /// Largest request head (request line and headers) in bytes.
    pub max_header_bytes: usize,
    pub max_headers: usize,
    /// Open connections per listener; further clients wait in the accept queue.
    pub max_connections: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub max_concurrent_streams: u32,
    /// Streams a client may reset before the server answers them (rapid reset, CVE-2023-44487).
    pub max_pending_reset_streams: usize,
    /// Streams the server may reset because of client errors before it closes the connection.
    pub max_error_reset_streams: usize,
    /// HTTP/2 pings on idle connections, to find dead peers.
    pub keep_alive_interval: Duration,
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
            max_headers: HYPER_MAX_HEADERS,
            max_connections: 10_000,
            max_concurrent_streams: 256,
            max_pending_reset_streams: 20,
            max_error_reset_streams: 256,
            keep_alive_interval: Duration::from_secs(30),
        }
    }
}

/// Flags of a control plane's servers (weft-global's and weft-zone's HTTP and gRPC ports).
#[derive(Clone, Debug, clap::Args)]
pub struct ServerArgs {
    /// Open connections of the HTTP port; past it new clients are closed at once.
    #[arg(long, env = "WEFT_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub max_connections: u32,

    /// Open connections of the gRPC port; past it new clients are closed at once (they
    /// reconnect with backoff).
    #[arg(long, env = "WEFT_GRPC_MAX_CONNECTIONS", default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub grpc_max_connections: u32,

    /// Time an HTTP client has to send a request's headers; also closes idle connections.
    #[arg(long, env = "WEFT_HEADER_READ_TIMEOUT", default_value = "10s")]
    pub header_read_timeout: crate::Seconds,
}

impl ServerArgs {
    /// The HTTP port's limits.
    pub fn http_limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: self.header_read_timeout.into(),
            max_connections: self.max_connections as usize,
            ..ServerLimits::default()
        }
    }
}

/// hyper's own limit of headers per HTTP/1.1 request.
const HYPER_MAX_HEADERS: usize = 100;

pub fn builder(limits: &ServerLimits) -> auto::Builder<TokioExecutor> {
    let mut builder = auto::Builder::new(TokioExecutor::new());
    let mut http1 = builder.http1();
    http1
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    // hyper keeps up to 100 header slots on the stack; any other limit moves them to the heap
    // (an allocation per request), so it is only set when it differs.
    if limits.max_headers != HYPER_MAX_HEADERS {
        http1.max_headers(limits.max_headers);
    }
    builder
        .http2()
        .timer(TokioTimer::new())
        .max_concurrent_streams(limits.max_concurrent_streams)
        .max_header_list_size(u32::try_from(limits.max_header_bytes).unwrap_or(u32::MAX))
        .max_pending_accept_reset_streams(limits.max_pending_reset_streams)
        .max_local_error_reset_streams(limits.max_error_reset_streams)
        .keep_alive_interval(limits.keep_alive_interval)
        .keep_alive_timeout(Duration::from_secs(10));
    builder
}

/// Serves `router` on `listener` with `limits` until `shutdown` resolves, then lets open
/// requests finish for up to `grace`. Each request carries the client's address
/// (`axum::extract::ConnectInfo<SocketAddr>`). Past `max_connections`, new clients are closed
/// at once rather than queued.
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
    grace: Duration,
) {
    let builder = Arc::new(builder(&limits));
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let Ok(slot) = slots.clone().try_acquire_owned() else {
            tracing::warn!(%peer, limit = limits.max_connections, "connection limit reached; closing a new connection");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(
            move |mut request: hyper::Request<hyper::body::Incoming>| {
                request
                    .extensions_mut()
                    .insert(axum::extract::ConnectInfo::<SocketAddr>(peer));
                let mut router = router.clone();
                async move {
                    tower::Service::call(&mut router, request.map(axum::body::Body::new)).await
                }
            },
        );
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(stream), service)
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(slot);
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("connections still open after the grace period");
    }
}
