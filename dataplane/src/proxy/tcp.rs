//! `protocol: tcp` ports: bytes copied both ways without looking at them (over mTLS between
//! proxies when the mesh has it). Outbound connections
//! go to an endpoint chosen like an HTTP request's (the default rule's weighted backends); each
//! connection counts as one request on its edge, with the bytes sent and received.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite};
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
}

impl TcpOutbound {
    pub fn new(
        service: &str,
        backends: Vec<(u64, Balance)>,
        fallback: Arc<EdgeStats>,
    ) -> TcpOutbound {
        TcpOutbound {
            service: service.to_string(),
            total: backends.iter().map(|(weight, _)| weight).sum(),
            backends,
            fallback,
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

/// Serves one accepted connection (`verified`: it came over mTLS).
pub async fn serve<I>(target: Arc<TcpTarget>, mut downstream: I, verified: bool)
where
    I: AsyncRead + AsyncWrite + Unpin,
{
    let started = Instant::now();
    match &*target {
        TcpTarget::Inbound { application, edge } => {
            let outcome = match tokio::time::timeout(
                Duration::from_secs(5),
                TcpStream::connect(*application),
            )
            .await
            {
                Ok(Ok(mut upstream)) => {
                    let _ = upstream.set_nodelay(true);
                    copy(&mut downstream, &mut upstream, started).await
                }
                _ => failed(started),
            };
            edge.record(&Outcome {
                mtls: verified,
                ..outcome
            });
        }
        TcpTarget::Outbound(outbound) => {
            let Some(balance) = outbound.backend() else {
                tracing::debug!(service = %outbound.service, "no backend for a tcp connection");
                outbound.fallback.record(&failed(started));
                return;
            };
            let (endpoint, pool) = match balance.pick_connection() {
                Ok(picked) => picked,
                Err(error) => {
                    tracing::debug!(%error, "no endpoint for a tcp connection");
                    outbound.fallback.record(&failed(started));
                    return;
                }
            };
            let outcome = {
                let _in_flight = InFlight::start(&endpoint);
                match pool.connect().await {
                    Ok((mut upstream, _permit)) => Outcome {
                        mtls: upstream.is_tls(),
                        ..copy(&mut downstream, &mut upstream, started).await
                    },
                    Err(error) => {
                        tracing::debug!(%error, "tcp upstream unreachable");
                        failed(started)
                    }
                }
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

async fn copy<A, B>(downstream: &mut A, upstream: &mut B, started: Instant) -> Outcome
where
    A: AsyncRead + AsyncWrite + Unpin,
    B: AsyncRead + AsyncWrite + Unpin,
{
    let latency = started.elapsed();
    let (sent, received) = tokio::io::copy_bidirectional(downstream, upstream)
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
