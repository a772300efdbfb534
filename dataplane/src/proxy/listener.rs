//! One listening port: accepts connections (at most `max_connections` at once) and serves each
//! with the stack the current config has for the port — HTTP, or plain TCP. The stack is looked
//! up per request, so a new config applies to open connections at once.
//!
//! Inbound ports of a mesh with mTLS look at a connection's first byte: a TLS handshake is
//! completed with the port's service certificate and the caller's verified identity goes with
//! every request; plaintext is served in permissive meshes and refused in strict ones.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use weft_model::mesh::MtlsMode;

use super::Proxy;
use super::runtime::PortStack;
use crate::body::Body;
use crate::error::ProxyError;
use crate::policy::balance::Peer;
use crate::source::VerifiedPeer;
use crate::stack::Response;
use crate::telemetry::Direction;

/// How long open connections get to finish when a listener closes.
pub const DRAIN: Duration = Duration::from_secs(5);
/// Longest TLS handshake.
const HANDSHAKE: Duration = Duration::from_secs(10);
/// The first byte of a TLS handshake record.
const TLS_HANDSHAKE: u8 = 0x16;

pub struct Listener {
    pub address: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Listener {
    pub fn start(proxy: Arc<Proxy>, socket: TcpListener, address: SocketAddr) -> Listener {
        let (stop, stopped) = oneshot::channel();
        let task = tokio::spawn(accept(proxy, socket, address.port(), stopped));
        Listener {
            address,
            stop,
            task,
        }
    }

    /// Stops accepting and waits for open connections to finish (up to [`DRAIN`]).
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}

async fn accept(
    proxy: Arc<Proxy>,
    socket: TcpListener,
    port: u16,
    mut stopped: oneshot::Receiver<()>,
) {
    let graceful = GracefulShutdown::new();
    let builder = Arc::new(weft_runtime::http_server::builder(&proxy.limits));
    let slots = Arc::new(Semaphore::new(proxy.limits.max_connections));
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
            _ = &mut stopped => break,
        };
        let accepted = tokio::select! {
            accepted = socket.accept() => accepted,
            _ = &mut stopped => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(error) => {
                tracing::warn!(port, %error, "accept failed");
                // Out of file descriptors and the like: give the system a moment.
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = Connection {
            proxy: proxy.clone(),
            builder: builder.clone(),
            port,
            peer,
            watcher: graceful.watcher(),
        };
        tokio::spawn(async move {
            connection.serve(stream).await;
            drop(permit);
        });
    }
    drop(socket);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(port, "connections still open after draining; closing them");
    }
}

struct Connection {
    proxy: Arc<Proxy>,
    builder: Arc<hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>>,
    port: u16,
    peer: SocketAddr,
    watcher: Watcher,
}

impl Connection {
    async fn serve(self, stream: TcpStream) {
        let port = self.port;
        let Some(runtime) = self.proxy.runtime() else {
            return;
        };
        let Some(entry) = runtime.port(port) else {
            return;
        };
        let mode = runtime.config.mtls;
        if entry.direction == Direction::Outbound || mode == MtlsMode::Off {
            drop(runtime);
            return self.serve_io(stream, None).await;
        }
        let mut first = [0u8; 1];
        let peeked = tokio::time::timeout(
            self.proxy.limits.header_read_timeout,
            stream.peek(&mut first),
        )
        .await;
        if !matches!(peeked, Ok(Ok(1))) {
            return;
        }
        if first[0] != TLS_HANDSHAKE {
            if mode == MtlsMode::Strict {
                tracing::debug!(port, peer = %self.peer, "plaintext refused: the mesh requires mTLS");
                return;
            }
            drop(runtime);
            return self.serve_io(stream, None).await;
        }
        let identity = entry
            .service
            .as_deref()
            .and_then(|service| self.proxy.shared.identities.get(service));
        let Some(identity) = identity else {
            tracing::debug!(
                port,
                "TLS refused: no certificate for this port's service yet"
            );
            return;
        };
        let mesh = runtime.config.mesh.clone();
        drop(runtime);
        let acceptor = tokio_rustls::TlsAcceptor::from(identity.tls.server.clone());
        let tls = match tokio::time::timeout(HANDSHAKE, acceptor.accept(stream)).await {
            Ok(Ok(tls)) => tls,
            Ok(Err(error)) => {
                tracing::debug!(port, peer = %self.peer, %error, "mTLS handshake refused");
                return;
            }
            Err(_) => return,
        };
        match crate::tls::peer_identity(tls.get_ref().1.peer_certificates(), &mesh) {
            Ok(service) => self.serve_io(tls, Some(Arc::from(service))).await,
            Err(error) => tracing::debug!(port, peer = %self.peer, %error, "peer refused"),
        }
    }

    /// Serves a connection (plain or decrypted) with the port's stack.
    async fn serve_io<I>(self, io: I, verified: Option<Arc<str>>)
    where
        I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let port = self.port;
        let tcp = self.proxy.runtime().and_then(|runtime| {
            match runtime.port(port).map(|entry| &entry.stack) {
                Some(PortStack::Tcp(target)) => Some(target.clone()),
                _ => None,
            }
        });
        if let Some(target) = tcp {
            // Byte streams have no graceful end: they run until either side closes.
            super::tcp::serve(target, io, verified.is_some()).await;
            return;
        }
        let proxy = self.proxy.clone();
        let peer = self.peer;
        let service = hyper::service::service_fn(move |request: http::Request<Incoming>| {
            let proxy = proxy.clone();
            let verified = verified.clone();
            async move { Ok::<_, Infallible>(route(&proxy, port, peer, verified, request).await) }
        });
        let connection = self
            .builder
            .serve_connection_with_upgrades(TokioIo::new(io), service)
            .into_owned();
        if let Err(error) = self.watcher.watch(connection).await {
            tracing::debug!(port, %error, "connection ended with an error");
        }
    }
}

/// The current stack for the port, or an error response when there is none.
async fn route(
    proxy: &Proxy,
    port: u16,
    peer: SocketAddr,
    verified: Option<Arc<str>>,
    request: http::Request<Incoming>,
) -> Response {
    let future = {
        let Some(runtime) = proxy.runtime() else {
            return ProxyError::NotConfigured.into_response();
        };
        match runtime.port(port).map(|port| &port.stack) {
            Some(PortStack::Http { stack, needs_peer }) => {
                let mut request = request.map(Body::Incoming);
                crate::upstream::forward::restore_original_version(
                    &mut request,
                    verified.is_some(),
                );
                if *needs_peer {
                    request.extensions_mut().insert(Peer(peer));
                }
                if let Some(service) = verified {
                    request.extensions_mut().insert(VerifiedPeer(service));
                }
                stack.call(request)
            }
            _ => return ProxyError::PortClosing(port).into_response(),
        }
    };
    future.await.unwrap_or_else(ProxyError::into_response)
}
