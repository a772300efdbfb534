//! `protocol: tcp` ports: bytes copied both ways without looking at them. Outbound connections
//! go to an endpoint chosen like an HTTP request's (the default rule's weighted backends); each
//! connection counts as one request on its edge, with the bytes sent and received.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpStream;

use crate::policy::balance::{Balance, InFlight};
use crate::telemetry::{EdgeStats, Outcome};

pub enum TcpTarget {
    Inbound {
        application: SocketAddr,
        edge: Arc<EdgeStats>,
    },
    Outbound(TcpOutbound),
}

pub struct TcpOutbound {
    service: String,
    backends: Vec<(u64, Balance)>,
    total: u64,
    fallback: Arc<EdgeStats>,
    connect_timeout: Duration,
}

impl TcpOutbound {
    pub fn new(
        service: &str,
        backends: Vec<(u64, Balance)>,
        fallback: Arc<EdgeStats>,
        connect_timeout: Duration,
    ) -> TcpOutbound {
        TcpOutbound {
            service: service.to_string(),
            total: backends.iter().map(|(weight, _)| weight).sum(),
            backends,
            fallback,
            connect_timeout,
        }
    }

    fn backend(&self) -> Option<&Balance> {
        if self.total == 0 {
            return None;
        }
        let mut point = fastrand::u64(..self.total);
        for (weight, balance) in &self.backends {
            if point < *weight {
                return Some(balance);
            }
            point -= weight;
        }
        None
    }
}

/// Serves one accepted connection.
pub async fn serve(target: Arc<TcpTarget>, mut downstream: TcpStream) {
    let started = Instant::now();
    match &*target {
        TcpTarget::Inbound { application, edge } => {
            let outcome = connect_and_copy(
                &mut downstream,
                *application,
                Duration::from_secs(5),
                started,
            )
            .await;
            edge.record(&outcome);
        }
        TcpTarget::Outbound(outbound) => {
            let Some(balance) = outbound.backend() else {
                tracing::debug!(service = %outbound.service, "no backend for a tcp connection");
                outbound.fallback.record(&failed(started));
                return;
            };
            let endpoint = match balance.pick(None) {
                Ok(endpoint) => endpoint,
                Err(error) => {
                    tracing::debug!(%error, "no endpoint for a tcp connection");
                    outbound.fallback.record(&failed(started));
                    return;
                }
            };
            let outcome = {
                let _in_flight = InFlight::start(&endpoint);
                connect_and_copy(
                    &mut downstream,
                    endpoint.address,
                    outbound.connect_timeout,
                    started,
                )
                .await
            };
            balance.record(&endpoint, outcome.status >= 500);
            if outcome.status >= 500 {
                outbound.fallback.record(&outcome);
            } else {
                endpoint.edge.record(&outcome);
            }
        }
    }
}

fn failed(started: Instant) -> Outcome {
    Outcome {
        status: 502,
        latency: started.elapsed(),
        ..Outcome::default()
    }
}

async fn connect_and_copy(
    downstream: &mut TcpStream,
    address: SocketAddr,
    connect_timeout: Duration,
    started: Instant,
) -> Outcome {
    let upstream = match tokio::time::timeout(connect_timeout, TcpStream::connect(address)).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(error)) => {
            tracing::debug!(%address, %error, "tcp upstream unreachable");
            return failed(started);
        }
        Err(_) => return failed(started),
    };
    let _ = upstream.set_nodelay(true);
    let latency = started.elapsed();
    let mut upstream = upstream;
    let (sent, received) = tokio::io::copy_bidirectional(downstream, &mut upstream)
        .await
        .unwrap_or((0, 0));
    Outcome {
        status: 200,
        latency,
        request_bytes: sent,
        response_bytes: received,
        ..Outcome::default()
    }
}
