//! How the proxy's listeners serve HTTP: HTTP/1.1 and HTTP/2 (prior knowledge) on every HTTP
//! port, with limits against slow or abusive clients.

use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioTimer};
use hyper_util::server::conn::auto;

/// Limits of every listener. The defaults suit a sidecar; `weft-dp` flags change the main ones.
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
