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
use crate::upstream::client::ClientSettings;
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
}

pub struct Runtime {
    pub version: u64,
    pub config: ProxyConfig,
    pub ports: HashMap<u16, Port>,
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
    pub client_settings: Vec<ClientSettings>,
}

impl Runtime {
    pub fn compile(
        version: u64,
        config: ProxyConfig,
        shared: &Shared,
    ) -> Result<Compiled, ConfigError> {
        let mut ports = HashMap::new();
        let mut health_checks = Vec::new();
        let mut client_settings = Vec::new();
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
                client_settings.push(built.client_settings);
                ports.insert(
                    inbound.port,
                    Port {
                        direction: Direction::Inbound,
                        stack: built.port,
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
                client_settings.push(ClientSettings {
                    http2: true,
                    ..built.client_settings.clone()
                });
                client_settings.push(built.client_settings);
                ports.insert(
                    outbound.port,
                    Port {
                        direction: Direction::Outbound,
                        stack: built.port,
                    },
                );
            }
        }
        Ok(Compiled {
            runtime: Runtime {
                version,
                config,
                ports,
            },
            health_checks,
            client_settings,
        })
    }
}
