//! The outbound stack of one port: what the application's calls to a service go through.
//!
//! ```text
//! trace → telemetry → access log → errors → routes (first matching rule)
//!   rule:    filters → split (weighted backend)
//!   backend: timeout(request) → retry → timeout(perTry) → circuit breaker → balance → endpoint
//! ```

use std::sync::Arc;

use weft_api::telemetry::EdgeKey;
use weft_model::dataplane::{SERVICE_TAG, VERSION_TAG};
use weft_model::policy::health_check::HealthCheckConf;
use weft_model::proxy::{BackendConfig, OutboundConfig};
use weft_model::traffic_route::Backend;

use super::runtime::{Context, PortStack};
use super::tcp::TcpOutbound;
use crate::error::ConfigError;
use crate::policy::access_log::AccessLogLayer;
use crate::policy::balance::{Balance, BalanceSpec, Versions};
use crate::policy::circuit_breaker::{CircuitBreakerLayer, Limits};
use crate::policy::errors::RespondLayer;
use crate::policy::filters::FiltersLayer;
use crate::policy::outlier::OutlierDetector;
use crate::policy::retry::{Budget, RetryLayer, RetryPolicy};
use crate::policy::telemetry::{Edges, TelemetryLayer};
use crate::policy::timeout::TimeoutLayer;
use crate::policy::trace::TraceLayer;
use crate::routing::{CompiledMatch, Router, Split};
use crate::stack::Stack;
use crate::telemetry::{Direction, EdgeStats};
use crate::upstream::endpoint::{Endpoint, EndpointSpec};
use crate::upstream::pool::{
    ClientSettings, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT, MtlsClient, PoolPair,
};
use weft_model::mesh::MtlsMode;

/// What building one outbound produced.
pub struct Built<'a> {
    pub port: PortStack,
    /// Endpoints to check actively, with their check.
    pub health_checks: Vec<(Arc<Endpoint>, &'a HealthCheckConf)>,
}

/// Everything a backend stack of this outbound shares.
struct Outbound<'a> {
    context: &'a Context<'a>,
    config: &'a OutboundConfig,
    settings: ClientSettings,
    fallback: Arc<EdgeStats>,
    outlier: Option<Arc<OutlierDetector>>,
    limits: Option<Arc<Limits>>,
    retry: Option<Arc<RetryPolicy>>,
}

pub fn build<'a>(
    context: &'a Context<'a>,
    config: &'a OutboundConfig,
) -> Result<Built<'a>, ConfigError> {
    let shared = context.shared;
    let timeout = config.timeout.as_ref();
    let circuit_breaker = config.circuit_breaker.as_ref();
    let client_settings = ClientSettings {
        service: config.service.clone(),
        http2: false,
        connect_timeout: timeout
            .and_then(|t| crate::policy::duration(&t.connect))
            .unwrap_or(DEFAULT_CONNECT_TIMEOUT),
        idle_timeout: timeout
            .and_then(|t| crate::policy::duration(&t.idle))
            .unwrap_or(DEFAULT_IDLE_TIMEOUT),
        max_connections: circuit_breaker
            .and_then(|cb| cb.max_connections)
            .and_then(|n| usize::try_from(n).ok()),
        mtls: (context.config.mtls != MtlsMode::Off).then(|| MtlsClient {
            mesh: context.config.mesh.clone(),
            own_service: context.source.0.to_string(),
            required: context.config.mtls == MtlsMode::Strict,
        }),
    };
    let fallback = shared.telemetry.edge(
        Direction::Outbound,
        EdgeKey {
            source_service: context.source.0.to_string(),
            source_version: context.source.1.to_string(),
            destination_service: config.service.clone(),
            destination_version: String::new(),
        },
    );
    let all_endpoints = every_endpoint(context, config);
    let outbound = Outbound {
        context,
        config,
        settings: client_settings.clone(),
        fallback: fallback.clone(),
        outlier: circuit_breaker
            .and_then(|cb| cb.outlier_detection.as_ref())
            .map(|conf| Arc::new(OutlierDetector::new(conf, all_endpoints.clone()))),
        limits: circuit_breaker.map(|cb| {
            shared.limits.get(
                (
                    config.service.clone(),
                    Limits::key(cb, config.protocol.is_http2()),
                ),
                || Limits::new(&config.service, cb, config.protocol.is_http2()),
            )
        }),
        retry: config.retry.as_ref().and_then(|conf| {
            let (percent, min_per_second) = RetryPolicy::budget_settings(conf);
            let budget = shared.budgets.get(
                (
                    config.port,
                    config.service.clone(),
                    percent.to_bits(),
                    min_per_second,
                ),
                || Budget::new(percent, min_per_second),
            );
            RetryPolicy::new(conf, budget).map(Arc::new)
        }),
    };
    let health_checks = match &config.health_check {
        Some(conf) => all_endpoints.iter().map(|e| (e.clone(), conf)).collect(),
        None => Vec::new(),
    };
    let port = if config.protocol.is_http() {
        let routes = push_routes(&outbound)?;
        let stack = push_errors(routes);
        let stack = push_access_log(stack, &outbound);
        let stack = push_telemetry(stack, fallback);
        let stack = push_trace(stack, context, &config.service);
        PortStack::Http {
            stack,
            needs_peer: false,
        }
    } else {
        PortStack::Tcp(Arc::new(super::tcp::TcpTarget::Outbound(TcpOutbound::new(
            &config.service,
            outbound.default_backends(),
            fallback,
        ))))
    };
    Ok(Built {
        port,
        health_checks,
    })
}

/// Every endpoint of every service this outbound routes or mirrors to, once.
fn every_endpoint(context: &Context<'_>, config: &OutboundConfig) -> Vec<Arc<Endpoint>> {
    config
        .services()
        .into_iter()
        .flat_map(|service| endpoints(context, service, |_| true))
        .collect()
}

/// The endpoints of `service` that `accepts` takes, as this proxy tracks them.
fn endpoints(
    context: &Context<'_>,
    service: &str,
    accepts: impl Fn(&weft_model::proxy::EndpointConfig) -> bool,
) -> Vec<Arc<Endpoint>> {
    let Some(list) = context.config.endpoints.get(service) else {
        return Vec::new();
    };
    list.iter()
        .filter(|endpoint| accepts(endpoint))
        .filter_map(|endpoint| {
            let ip = endpoint.address.parse().ok()?;
            Some(
                context.shared.endpoints.get(
                    &context.shared.telemetry,
                    context.source,
                    &EndpointSpec {
                        address: std::net::SocketAddr::new(ip, endpoint.port),
                        service: endpoint
                            .tags
                            .get(SERVICE_TAG)
                            .map_or(service, String::as_str),
                        version: endpoint.tags.get(VERSION_TAG).map_or("", String::as_str),
                        zone: endpoint.zone.as_deref(),
                        dataplane: &endpoint.dataplane,
                    },
                ),
            )
        })
        .collect()
}

/// `service catalog with version=v1`.
fn describe(service: &str, tags: &std::collections::BTreeMap<String, String>) -> String {
    if tags.is_empty() {
        return format!("service {service}");
    }
    let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("service {service} with {}", tags.join(","))
}

impl Outbound<'_> {
    fn push_balance(
        &self,
        service: &str,
        tags: &std::collections::BTreeMap<String, String>,
    ) -> Balance {
        let wanted = BackendConfig {
            service: service.to_string(),
            tags: tags.clone(),
            weight: 1,
        };
        Balance::new(BalanceSpec {
            backend: describe(service, tags),
            service: service.to_string(),
            endpoints: endpoints(self.context, service, |endpoint| wanted.accepts(endpoint))
                .into_iter()
                .map(|endpoint| {
                    let pools = self.pools(&endpoint);
                    (endpoint, pools)
                })
                .collect(),
            conf: self.config.load_balancing.as_ref(),
            zone: self.context.config.zone.as_deref(),
            versions: if self.settings.mtls.is_some() {
                Versions::Multiplexed
            } else {
                Versions::Same
            },
            outlier: self.outlier.clone(),
        })
    }

    fn pools(&self, endpoint: &Endpoint) -> PoolPair {
        self.context.shared.pools.pair(
            endpoint.address,
            &endpoint.describe(),
            &self.settings,
            &self.context.shared.identities,
            &endpoint.service,
        )
    }

    /// The stack of one backend (service and tags).
    fn backend(&self, service: &str, tags: &std::collections::BTreeMap<String, String>) -> Stack {
        let stack = Stack::new(self.push_balance(service, tags));
        let stack = self.push_circuit_breaker(stack);
        let stack = self.push_retry(stack);
        self.push_timeout(stack)
    }

    fn push_circuit_breaker(&self, stack: Stack) -> Stack {
        stack.push_optional(self.limits.clone().map(CircuitBreakerLayer))
    }

    /// Retries, each attempt bounded by `perTryTimeout`.
    fn push_retry(&self, stack: Stack) -> Stack {
        let Some(policy) = &self.retry else {
            return stack;
        };
        let per_try = self
            .config
            .retry
            .as_ref()
            .and_then(|conf| crate::policy::duration(&conf.per_try_timeout));
        stack
            .push_optional(TimeoutLayer::per_try(per_try))
            .push(RetryLayer {
                policy: policy.clone(),
                fallback: self.fallback.clone(),
            })
    }

    fn push_timeout(&self, stack: Stack) -> Stack {
        stack.push_optional(TimeoutLayer::request(self.config.timeout.as_ref()))
    }

    /// A mirror target: balance only, no retries or limits.
    fn mirror(&self, backend: &Backend) -> Stack {
        Stack::new(self.push_balance(&backend.service, &backend.tags))
    }

    fn default_backends(&self) -> Vec<(u64, Balance)> {
        self.config
            .rules
            .last()
            .map(|rule| {
                rule.backends
                    .iter()
                    .map(|b| (u64::from(b.weight), self.push_balance(&b.service, &b.tags)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Rules in order, each with its filters and weighted backends.
fn push_routes(outbound: &Outbound<'_>) -> Result<Stack, ConfigError> {
    let config = outbound.config;
    let invalid = |message: String| ConfigError::Outbound {
        service: config.service.clone(),
        message,
    };
    let mut rules = Vec::with_capacity(config.rules.len());
    for rule in &config.rules {
        let backends = rule
            .backends
            .iter()
            .map(|b| (u64::from(b.weight), outbound.backend(&b.service, &b.tags)))
            .collect();
        let split = Stack::new(Split::new(&config.service, backends));
        let prefix = rule
            .route_match
            .path
            .as_ref()
            .and_then(|path| path.prefix.as_deref());
        let filters = FiltersLayer::new(&rule.filters, prefix, |backend| outbound.mirror(backend))?;
        let matcher = CompiledMatch::compile(&rule.route_match).map_err(invalid)?;
        rules.push((matcher, split.push_optional(filters)));
    }
    Ok(Stack::new(Router::new(
        &config.service,
        outbound.context.source.0,
        rules,
    )))
}

fn push_errors(stack: Stack) -> Stack {
    stack.push(RespondLayer)
}

fn push_access_log(stack: Stack, outbound: &Outbound<'_>) -> Stack {
    stack.push_optional(AccessLogLayer::outbound(
        &outbound.context.shared.sinks,
        outbound.config.access_log.as_ref(),
        &outbound.config.service,
        outbound.context.source.0,
    ))
}

fn push_telemetry(stack: Stack, fallback: Arc<EdgeStats>) -> Stack {
    stack.push(TelemetryLayer(Edges::Outbound { fallback }))
}

fn push_trace(stack: Stack, context: &Context<'_>, service: &str) -> Stack {
    stack.push_optional(
        context
            .tracing
            .clone()
            .map(|tracing| TraceLayer::new(tracing, Direction::Outbound, service)),
    )
}
