//! The proxy: listeners for the ports in the current config, and the stacks behind them.
//!
//! A config version is applied all or nothing: it is compiled first (a stack per port), new
//! listeners are bound, and only then does the new version replace the old one; if anything
//! fails the version is rejected and the previous one keeps serving. Listeners are keyed by
//! port, so a port that moves between inbound and outbound keeps its socket when its address
//! stays the same, and is closed before it is bound again when the address changes.

mod cache;
pub mod inbound;
mod listener;
pub mod outbound;
pub mod runtime;
mod tcp;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use arc_swap::ArcSwapOption;
use weft_model::proxy::ProxyConfig;

pub use listener::Listener;
pub use runtime::Runtime;
pub use weft_runtime::http_server::ServerLimits;

use crate::error::ConfigError;
use crate::policy::access_log::Sinks;
use crate::policy::circuit_breaker::{Limits, LimitsKey};
use crate::policy::health_check::HealthChecks;
use crate::policy::rate_limit::Bucket;
use crate::policy::retry::Budget;
use crate::policy::trace::{Tracing, TracingKey};
use crate::telemetry::{Direction, Telemetry};
use crate::upstream::endpoint::Endpoints;
use crate::upstream::pool::Pools;
use cache::Cache;

/// State shared by config versions.
#[derive(Default)]
pub struct Shared {
    pub telemetry: Arc<Telemetry>,
    pub pools: Pools,
    pub endpoints: Endpoints,
    pub health: HealthChecks,
    pub sinks: Sinks,
    /// The proxy's certificates.
    pub identities: Arc<crate::identity::Identities>,
    budgets: Cache<(u16, String, u64, u64), Budget>,
    limits: Cache<(String, LimitsKey), Limits>,
    buckets: Cache<(u16, Option<String>, String), Bucket>,
    tracing: Cache<TracingKey, Tracing>,
}

pub struct Proxy {
    runtime: ArcSwapOption<Runtime>,
    listeners: tokio::sync::Mutex<HashMap<u16, Listener>>,
    /// Address inbound listeners bind to: the dataplane's registered address.
    inbound_ip: IpAddr,
    pub shared: Shared,
    pub limits: ServerLimits,
}

impl Proxy {
    pub fn new(inbound_ip: IpAddr, telemetry: Arc<Telemetry>) -> Arc<Proxy> {
        Proxy::with_limits(inbound_ip, telemetry, ServerLimits::default())
    }

    pub fn with_limits(
        inbound_ip: IpAddr,
        telemetry: Arc<Telemetry>,
        limits: ServerLimits,
    ) -> Arc<Proxy> {
        Arc::new(Proxy {
            runtime: ArcSwapOption::empty(),
            listeners: tokio::sync::Mutex::default(),
            inbound_ip,
            shared: Shared {
                telemetry,
                ..Shared::default()
            },
            limits,
        })
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.shared.telemetry
    }

    pub fn runtime(&self) -> Option<Arc<Runtime>> {
        self.runtime.load_full()
    }

    fn bind_address(&self, direction: Direction, port: u16) -> SocketAddr {
        match direction {
            Direction::Inbound => SocketAddr::new(self.inbound_ip, port),
            // Outbound listeners serve only the local application.
            Direction::Outbound => SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port),
        }
    }

    /// Applies a config version: compiles it, binds new listeners, swaps it in, closes the
    /// listeners it no longer has.
    pub async fn apply(
        self: &Arc<Self>,
        version: u64,
        config: ProxyConfig,
    ) -> Result<(), ConfigError> {
        let compiled = Runtime::compile(version, config, &self.shared)?;
        let desired: HashMap<u16, SocketAddr> = compiled
            .runtime
            .ports()
            .map(|(port, entry)| (port, self.bind_address(entry.direction, port)))
            .collect();
        let mut listeners = self.listeners.lock().await;
        // Ports whose address changes are closed first, so that they can be bound again.
        let mut moved = Vec::new();
        for (port, address) in &desired {
            if let Some(listener) = listeners.get(port)
                && listener.address != *address
                && let Some(listener) = listeners.remove(port)
            {
                moved.push(listener.address);
                listener.stop().await;
            }
        }
        let mut bound = Vec::new();
        for (port, address) in &desired {
            if listeners.contains_key(port) {
                continue;
            }
            match tokio::net::TcpListener::bind(address).await {
                Ok(socket) => bound.push((*port, *address, socket)),
                Err(error) => {
                    // Put back what was moved, and keep serving the previous version.
                    for previous in moved {
                        if let Ok(socket) = tokio::net::TcpListener::bind(previous).await {
                            listeners.insert(
                                previous.port(),
                                Listener::start(self.clone(), socket, previous),
                            );
                        }
                    }
                    return Err(ConfigError::Listen {
                        address: *address,
                        error,
                    });
                }
            }
        }
        self.runtime.store(Some(Arc::new(compiled.runtime)));
        for (port, address, socket) in bound {
            tracing::info!(port, %address, "listening");
            listeners.insert(port, Listener::start(self.clone(), socket, address));
        }
        let stale: Vec<u16> = listeners
            .keys()
            .filter(|port| !desired.contains_key(port))
            .copied()
            .collect();
        for port in stale {
            if let Some(listener) = listeners.remove(&port) {
                tokio::spawn(listener.stop());
            }
        }
        // Still under the listeners lock: applies do not interleave.
        let wanted = compiled
            .health_checks
            .iter()
            .map(|(endpoint, conf)| (endpoint.clone(), conf))
            .collect();
        let source = self
            .runtime()
            .map(|r| r.config.service.clone())
            .unwrap_or_default();
        self.shared.health.reconcile(wanted, &source);
        self.shared.pools.retain_used();
        self.shared.endpoints.retain_used();
        self.shared.sinks.retain_used();
        self.shared.budgets.retain_used();
        self.shared.limits.retain_used();
        self.shared.buckets.retain_used();
        self.shared.tracing.retain_used();
        drop(listeners);
        Ok(())
    }

    /// Stops every listener, letting in-flight requests finish.
    pub async fn stop(&self) {
        let listeners: Vec<Listener> = {
            let mut listeners = self.listeners.lock().await;
            listeners.drain().map(|(_, listener)| listener).collect()
        };
        futures::future::join_all(listeners.into_iter().map(Listener::stop)).await;
    }
}
