//! The control planes' gRPC servers (global's zone sync port, a zone's proxy port): TLS, the
//! same HTTP/2 limits on both, and a limit on open connections.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_stream::Stream;
use tonic::transport::Server;
use tonic::transport::server::{Connected, TcpConnectInfo};

use crate::grpc::{KEEPALIVE_INTERVAL, KEEPALIVE_TIMEOUT, server_tls};

/// Streams one client connection may have open at once (a zone or proxy needs a handful).
pub const MAX_STREAMS_PER_CONNECTION: u32 = 64;
/// Streams a client may reset before the server answers them (rapid reset).
pub const MAX_PENDING_RESETS: usize = 20;

/// A server builder with TLS and the limits every control-plane gRPC port uses.
pub fn builder(certificate_pem: &str, key_pem: &str) -> Result<Server, tonic::transport::Error> {
    Ok(Server::builder()
        .tls_config(server_tls(certificate_pem, key_pem))?
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT))
        .max_concurrent_streams(Some(MAX_STREAMS_PER_CONNECTION))
        .http2_max_pending_accept_reset_streams(Some(MAX_PENDING_RESETS))
        .concurrency_limit_per_connection(MAX_STREAMS_PER_CONNECTION as usize))
}

/// A connection holding one of the limited places.
pub struct Limited {
    stream: TcpStream,
    _slot: OwnedSemaphorePermit,
}

impl Connected for Limited {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(context, buffer)
    }
}

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
        buffer: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(context, buffer)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(context)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(context)
    }
}

/// The connections of `listener`, at most `max_connections` open at once; past that new
/// clients are closed at once (a zone or proxy reconnects with backoff).
pub fn limited_incoming(
    listener: TcpListener,
    max_connections: usize,
) -> impl Stream<Item = std::io::Result<Limited>> {
    let slots = Arc::new(Semaphore::new(max_connections));
    async_stream::stream! {
        loop {
            match listener.accept().await {
                Ok((stream, peer)) => match slots.clone().try_acquire_owned() {
                    Ok(slot) => {
                        let _ = stream.set_nodelay(true);
                        yield Ok(Limited { stream, _slot: slot });
                    }
                    Err(_) => {
                        tracing::warn!(%peer, limit = max_connections, "gRPC connection limit reached; closing a new connection");
                    }
                },
                Err(error) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                }
            }
        }
    }
}
