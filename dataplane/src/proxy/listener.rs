//! One listening port: accepts connections (at most `max_connections` at once) and serves each
//! with the stack the current config has for the port — HTTP, or plain TCP. The stack is looked
//! up per request, so a new config applies to open connections at once.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;

use super::Proxy;
use super::runtime::PortStack;
use crate::body::Body;
use crate::error::ProxyError;
use crate::policy::balance::Peer;
use crate::stack::Response;

/// How long open connections get to finish when a listener closes.
pub const DRAIN: Duration = Duration::from_secs(5);

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
    let builder = Arc::new(super::server::builder(&proxy.limits));
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
        let Some(runtime) = proxy.runtime() else {
            continue;
        };
        match runtime.port(port).map(|port| &port.stack) {
            Some(PortStack::Tcp(target)) => {
                // Byte streams have no graceful end: they run until either side closes.
                let target = target.clone();
                tokio::spawn(async move {
                    super::tcp::serve(target, stream).await;
                    drop(permit);
                });
            }
            Some(PortStack::Http { .. }) | None => {
                let proxy = proxy.clone();
                let service =
                    hyper::service::service_fn(move |request: http::Request<Incoming>| {
                        let proxy = proxy.clone();
                        async move { Ok::<_, Infallible>(route(&proxy, port, peer, request).await) }
                    });
                let connection = builder
                    .serve_connection_with_upgrades(TokioIo::new(stream), service)
                    .into_owned();
                let watched = graceful.watch(connection);
                tokio::spawn(async move {
                    if let Err(error) = watched.await {
                        tracing::debug!(port, %error, "connection ended with an error");
                    }
                    drop(permit);
                });
            }
        }
    }
    drop(socket);
    if tokio::time::timeout(DRAIN, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(port, "connections still open after draining; closing them");
    }
}

/// The current stack for the port, or an error response when there is none.
async fn route(
    proxy: &Proxy,
    port: u16,
    peer: SocketAddr,
    request: http::Request<Incoming>,
) -> Response {
    let future = {
        let Some(runtime) = proxy.runtime() else {
            return ProxyError::NotConfigured.into_response();
        };
        match runtime.port(port).map(|port| &port.stack) {
            Some(PortStack::Http { stack, needs_peer }) => {
                let mut request = request.map(Body::Incoming);
                if *needs_peer {
                    request.extensions_mut().insert(Peer(peer));
                }
                stack.call(request)
            }
            _ => return ProxyError::PortClosing(port).into_response(),
        }
    };
    future.await.unwrap_or_else(ProxyError::into_response)
}
