//! One applied config version, compiled for the request path: a stack per port.

use std::collections::HashMap;
use std::sync::Arc;

use weft_model::policy::health_check::HealthCheckConf;
use weft_model::proxy::ProxyConfig;

use super::Shared;
use super::tcp::TcpTarget;
use crate::error::ConfigError;
use crate::stack::Stack;
use crate::telemetry::Direction;
use crate::upstream::endpoint::Endpoint;

pub enum PortStack {
    Http {
        stack: Stack,
        /// A layer needs the downstream address ([`crate::policy::balance::Peer`]).
        needs_peer: bool,
    },
    Tcp(Arc<TcpTarget>),
}

pub struct Port {
    pub direction: Direction,
    pub stack: PortStack,
    /// Inbound ports: the service whose certificate the port presents.
    pub service: Option<String>,
}

pub struct Runtime {
    pub version: u64,
    pub config: ProxyConfig,
    /// Sorted by port; a handful, so a search beats hashing on every request.
    ports: Vec<(u16, Port)>,
}

/// What compiling reads.
pub struct Context<'a> {
    pub shared: &'a Shared,
    pub config: &'a ProxyConfig,
    /// This proxy's service and version.
    pub source: (&'a str, &'a str),
    /// Where spans go, when the config traces.
    pub tracing: Option<Arc<crate::policy::trace::Tracing>>,
}

/// A compiled version and what it wants done once it is applied.
pub struct Compiled {
    pub runtime: Runtime,
    pub health_checks: Vec<(Arc<Endpoint>, HealthCheckConf)>,
}

impl Runtime {
    /// The stack of a listening port.
    pub fn port(&self, port: u16) -> Option<&Port> {
        self.ports
            .binary_search_by_key(&port, |(number, _)| *number)
            .ok()
            .map(|index| &self.ports[index].1)
    }

    pub fn ports(&self) -> impl Iterator<Item = (u16, &Port)> {
        self.ports.iter().map(|(number, port)| (*number, port))
    }

    pub fn compile(
        version: u64,
        config: ProxyConfig,
        shared: &Shared,
    ) -> Result<Compiled, ConfigError> {
        let mut ports = HashMap::new();
        let mut health_checks = Vec::new();
        {
            let tracing = crate::policy::trace::TracingKey::of(&config).and_then(|key| {
                shared
                    .tracing
                    .try_get(key.clone(), || crate::policy::trace::Tracing::new(&key))
                    .map_err(|error| tracing::warn!(%error, "tracing is off"))
                    .ok()
            });
            let context = Context {
                shared,
                config: &config,
                source: (
                    config.service.as_str(),
                    config.version.as_deref().unwrap_or_default(),
                ),
                tracing,
            };
            for inbound in &config.inbound {
                let built = super::inbound::build(&context, inbound)?;
                ports.insert(
                    inbound.port,
                    Port {
                        direction: Direction::Inbound,
                        stack: built.port,
                        service: inbound
                            .tags
                            .get(weft_model::dataplane::SERVICE_TAG)
                            .cloned(),
                    },
                );
            }
            for outbound in &config.outbound {
                let built = super::outbound::build(&context, outbound)?;
                health_checks.extend(
                    built
                        .health_checks
                        .into_iter()
                        .map(|(endpoint, conf)| (endpoint, conf.clone())),
                );
                ports.insert(
                    outbound.port,
                    Port {
                        direction: Direction::Outbound,
                        stack: built.port,
                        service: None,
                    },
                );
            }
        }
        let mut ports: Vec<(u16, Port)> = ports.into_iter().collect();
        ports.sort_by_key(|(number, _)| *number);
        Ok(Compiled {
            runtime: Runtime {
                version,
                config,
                ports,
            },
            health_checks,
        })
    }
}
