//! The proxy: listeners for the ports in the current config and the request path through them.
//!
//! A config version is applied all or nothing: new listeners are bound first, and if any bind
//! fails the version is rejected and the previous one keeps serving.

mod forward;
mod handler;
mod listener;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;
use weft_model::proxy::ProxyConfig;

use crate::routing::CompiledOutbound;
use crate::telemetry::{Direction, Telemetry};

pub use listener::Listener;

/// Where an inbound port forwards to, and the identity it reports.
#[derive(Debug)]
pub struct InboundTarget {
    pub application: SocketAddr,
    pub service: String,
    pub version: String,
}

/// One applied config version, compiled for the request path.
#[derive(Debug)]
pub struct Runtime {
    pub version: u64,
    pub config: ProxyConfig,
    pub inbound: HashMap<u16, InboundTarget>,
    pub outbound: HashMap<u16, Arc<CompiledOutbound>>,
}

impl Runtime {
    pub fn compile(version: u64, config: ProxyConfig) -> Result<Runtime, String> {
        let mut inbound = HashMap::new();
        for listener in &config.inbound {
            let ip: IpAddr = listener.service_address.parse().map_err(|_| {
                format!(
                    "inbound {}: invalid service address {:?}",
                    listener.port, listener.service_address
                )
            })?;
            let target = InboundTarget {
                application: SocketAddr::new(ip, listener.service_port),
                service: listener.tags.get("service").cloned().unwrap_or_default(),
                version: listener.tags.get("version").cloned().unwrap_or_default(),
            };
            inbound.insert(listener.port, target);
        }
        let outbound = config
            .outbound
            .iter()
            .map(|listener| {
                let compiled = CompiledOutbound::compile(listener, &config.endpoints)
                    .map_err(|error| format!("outbound {}: {error}", listener.service))?;
                Ok((listener.port, Arc::new(compiled)))
            })
            .collect::<Result<_, String>>()?;
        Ok(Runtime {
            version,
            config,
            inbound,
            outbound,
        })
    }
}

pub struct Proxy {
    runtime: ArcSwapOption<Runtime>,
    listeners: Mutex<HashMap<(Direction, u16), Listener>>,
    /// Address inbound listeners bind to: the dataplane's registered address.
    inbound_ip: IpAddr,
    client: forward::Client,
    pub telemetry: Arc<Telemetry>,
}

impl Proxy {
    pub fn new(inbound_ip: IpAddr, telemetry: Arc<Telemetry>) -> Arc<Proxy> {
        Arc::new(Proxy {
            runtime: ArcSwapOption::empty(),
            listeners: Mutex::default(),
            inbound_ip,
            client: forward::client(),
            telemetry,
        })
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

    /// Applies a config version: binds new listeners, swaps the runtime, closes old listeners.
    pub async fn apply(self: &Arc<Self>, version: u64, config: ProxyConfig) -> Result<(), String> {
        let runtime = Runtime::compile(version, config)?;
        let desired: Vec<(Direction, u16)> = runtime
            .inbound
            .keys()
            .map(|port| (Direction::Inbound, *port))
            .chain(
                runtime
                    .outbound
                    .keys()
                    .map(|port| (Direction::Outbound, *port)),
            )
            .collect();
        let missing: Vec<(Direction, u16)> = {
            let listeners = self
                .listeners
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            desired
                .iter()
                .filter(|key| !listeners.contains_key(key))
                .copied()
                .collect()
        };
        let mut bound = Vec::new();
        for (direction, port) in missing {
            let address = self.bind_address(direction, port);
            match tokio::net::TcpListener::bind(address).await {
                Ok(socket) => bound.push(((direction, port), socket)),
                Err(error) => return Err(format!("cannot listen on {address}: {error}")),
            }
        }
        self.runtime.store(Some(Arc::new(runtime)));
        let mut stale = Vec::new();
        {
            let mut listeners = self
                .listeners
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            for ((direction, port), socket) in bound {
                tracing::info!(?direction, port, "listening");
                listeners.insert(
                    (direction, port),
                    Listener::start(self.clone(), direction, port, socket),
                );
            }
            let keys: Vec<(Direction, u16)> = listeners.keys().copied().collect();
            for key in keys.into_iter().filter(|key| !desired.contains(key)) {
                if let Some(listener) = listeners.remove(&key) {
                    stale.push(listener);
                }
            }
        }
        for listener in stale {
            tokio::spawn(listener.stop());
        }
        Ok(())
    }

    /// Stops every listener, letting in-flight requests finish.
    pub async fn stop(&self) {
        let listeners: Vec<Listener> = {
            let mut listeners = self
                .listeners
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            listeners.drain().map(|(_, listener)| listener).collect()
        };
        futures::future::join_all(listeners.into_iter().map(Listener::stop)).await;
    }
}
