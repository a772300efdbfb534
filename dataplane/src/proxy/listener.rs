//! One listening port: accepts connections and serves HTTP/1.1 through the proxy handler.

use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::Proxy;
use crate::telemetry::Direction;

/// How long open connections get to finish when a listener closes.
const DRAIN: Duration = Duration::from_secs(5);

pub struct Listener {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Listener {
    pub fn start(
        proxy: Arc<Proxy>,
        direction: Direction,
        port: u16,
        socket: TcpListener,
    ) -> Listener {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let graceful = GracefulShutdown::new();
            let builder = hyper::server::conn::http1::Builder::new();
            loop {
                let accepted = tokio::select! {
                    accepted = socket.accept() => accepted,
                    _ = &mut stopped => break,
                };
                let stream = match accepted {
                    Ok((stream, _)) => stream,
                    Err(error) => {
                        tracing::warn!(port, %error, "accept failed");
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let proxy = proxy.clone();
                let service = service_fn(move |request| {
                    super::handler::handle(proxy.clone(), direction, port, request)
                });
                let connection =
                    graceful.watch(builder.serve_connection(TokioIo::new(stream), service));
                tokio::spawn(async move {
                    if let Err(error) = connection.await {
                        tracing::debug!(port, %error, "connection ended with an error");
                    }
                });
            }
            drop(socket);
            if tokio::time::timeout(DRAIN, graceful.shutdown())
                .await
                .is_err()
            {
                tracing::warn!(port, "connections still open after draining; closing them");
            }
        });
        Listener { stop, task }
    }

    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
