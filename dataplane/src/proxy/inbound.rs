//! The inbound stack of one port: what calls from peers (and from outside the mesh) go through
//! before they reach the application.
//!
//! ```text
//! trace → telemetry → access log → errors → permissions → rate limit → fault injection
//!   → application
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use weft_api::telemetry::EdgeKey;
use weft_model::dataplane::{SERVICE_TAG, VERSION_TAG};
use weft_model::proxy::InboundConfig;

use super::runtime::{Context, PortStack};
use super::tcp::TcpTarget;
use crate::error::ConfigError;
use crate::policy::access_log::AccessLogLayer;
use crate::policy::balance::{Balance, BalanceSpec, Versions};
use crate::policy::errors::RespondLayer;
use crate::policy::fault_injection::FaultInjectionLayer;
use crate::policy::permissions::PermissionsLayer;
use crate::policy::rate_limit::{Bucket, RateLimitLayer};
use crate::policy::telemetry::{Edges, SOURCE_HEADER, TelemetryLayer};
use crate::policy::trace::TraceLayer;
use crate::stack::{Request, ResponseFuture, Stack};
use crate::telemetry::Direction;
use crate::upstream::endpoint::{Endpoint, EndpointSpec};
use crate::upstream::pool::{ClientSettings, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT};

/// Source of inbound edges for traffic from other proxies (they count it themselves).
pub const MESH_SOURCE: &str = "*";

pub struct Built {
    pub port: PortStack,
}

pub fn build(context: &Context<'_>, config: &InboundConfig) -> Result<Built, ConfigError> {
    let ip = config
        .service_address
        .parse()
        .map_err(|_| ConfigError::ServiceAddress {
            port: config.port,
            address: config.service_address.clone(),
        })?;
    let application = SocketAddr::new(ip, config.service_port);
    let service = config.tags.get(SERVICE_TAG).map_or("", String::as_str);
    let version = config.tags.get(VERSION_TAG).map_or("", String::as_str);
    let edge = |source: &str| {
        context.shared.telemetry.edge(
            Direction::Inbound,
            EdgeKey {
                source_service: source.to_string(),
                source_version: String::new(),
                destination_service: service.to_string(),
                destination_version: version.to_string(),
            },
        )
    };
    let (external, mesh) = (edge(""), edge(MESH_SOURCE));
    let client_settings = ClientSettings {
        service: format!("inbound {}", config.port),
        http2: config.protocol.is_http2(),
        connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        idle_timeout: DEFAULT_IDLE_TIMEOUT,
        max_connections: None,
        mtls: None,
    };
    if !config.protocol.is_http() {
        let port = PortStack::Tcp(Arc::new(TcpTarget::Inbound {
            application,
            edge: mesh,
        }));
        return Ok(Built { port });
    }
    let endpoint = Arc::new(Endpoint::new(
        &EndpointSpec {
            address: application,
            service,
            version,
            zone: context.config.zone.as_deref(),
            dataplane: &context.config.dataplane,
        },
        mesh.clone(),
    ));
    let name = format!("application at {application}");
    let pools = context.shared.pools.pair(
        application,
        &name,
        &client_settings,
        &context.shared.identities,
        service,
    );
    let application = Balance::new(BalanceSpec {
        backend: name,
        service: service.to_string(),
        endpoints: vec![(endpoint, pools)],
        conf: None,
        zone: None,
        versions: Versions::Fixed {
            http2: config.protocol.is_http2(),
        },
        outlier: None,
    });
    let stack = Stack::new(Application(application));
    let stack = push_fault_injection(stack, config);
    let stack = push_rate_limit(stack, context, config);
    let stack = push_permissions(stack, config);
    let stack = stack.push(RespondLayer);
    let stack = push_access_log(stack, context, config, service);
    let stack = stack.push(TelemetryLayer(Edges::Inbound { external, mesh }));
    let stack = push_trace(stack, context, service);
    Ok(Built {
        port: PortStack::Http {
            stack,
            needs_peer: false,
        },
    })
}

/// The local application: the mesh's own headers stop here.
#[derive(Clone)]
struct Application(Balance);

impl Application {
    fn serve(&self, mut request: Request) -> ResponseFuture {
        request.headers_mut().remove(SOURCE_HEADER);
        tower::Service::call(&mut self.0.clone(), request)
    }
}

crate::stack_service!(Application);

fn push_fault_injection(stack: Stack, config: &InboundConfig) -> Stack {
    stack.push_optional(FaultInjectionLayer::new(&config.fault_injection))
}

fn push_rate_limit(stack: Stack, context: &Context<'_>, config: &InboundConfig) -> Stack {
    let layer = RateLimitLayer::new(&config.rate_limit, |source, conf| {
        let key = (
            config.port,
            source.map(str::to_string),
            serde_json::to_string(conf).unwrap_or_default(),
        );
        context.shared.buckets.get(key, || Bucket::new(conf))
    });
    stack.push_optional(layer)
}

fn push_access_log(
    stack: Stack,
    context: &Context<'_>,
    config: &InboundConfig,
    service: &str,
) -> Stack {
    stack.push_optional(AccessLogLayer::inbound(
        &context.shared.sinks,
        &config.access_log,
        service,
    ))
}

fn push_trace(stack: Stack, context: &Context<'_>, service: &str) -> Stack {
    stack.push_optional(
        context
            .tracing
            .clone()
            .map(|tracing| TraceLayer::new(tracing, Direction::Inbound, service)),
    )
}

fn push_permissions(stack: Stack, config: &InboundConfig) -> Stack {
    stack.push_optional(PermissionsLayer::new(&config.permissions))
}
