//! What a proxy receives: its listeners with their routes and policies, the endpoints of the
//! services it calls, and for every setting the policy that produced it. Computed by
//! [`crate::effective`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::dataplane::Protocol;
use crate::mesh::MtlsMode;
use crate::policy::Provenance;
use crate::policy::access_log::AccessLogConf;
use crate::policy::circuit_breaker::CircuitBreakerConf;
use crate::policy::fault_injection::FaultInjectionConf;
use crate::policy::health_check::HealthCheckConf;
use crate::policy::load_balancing::LoadBalancingConf;
use crate::policy::rate_limit::RateLimitConf;
use crate::policy::retry::RetryConf;
use crate::policy::timeout::TimeoutConf;
use crate::policy::trace::TraceConf;
use crate::traffic_permission::{Action, Source};
use crate::traffic_route::{Filter, RouteMatch};

/// Origin recorded for settings no policy produced.
pub const DEFAULT_ORIGIN: &str = "default";

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfig {
    pub mesh: String,
    pub dataplane: String,
    /// Service this proxy reports its traffic as.
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default)]
    pub mtls: MtlsMode,
    pub inbound: Vec<InboundConfig>,
    pub outbound: Vec<OutboundConfig>,
    /// Endpoints of every service this proxy may route to, by service name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub endpoints: BTreeMap<String, Vec<EndpointConfig>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace: Option<TraceConf>,
    /// Setting path → the policy that produced it (`Kind/name`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub provenance: Provenance,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundConfig {
    pub port: u16,
    pub service_address: String,
    pub service_port: u16,
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "is_http")]
    pub protocol: Protocol,
    #[serde(default)]
    pub permissions: Permissions,
    #[serde(default, skip_serializing_if = "PerSource::is_empty")]
    pub rate_limit: PerSource<RateLimitConf>,
    #[serde(default, skip_serializing_if = "PerSource::is_empty")]
    pub fault_injection: PerSource<FaultInjectionConf>,
    #[serde(default, skip_serializing_if = "PerSource::is_empty")]
    pub access_log: PerSource<AccessLogConf>,
}

/// An inbound setting for every source (`default`) and overrides for named source services.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PerSource<C> {
    #[serde(default = "none", skip_serializing_if = "Option::is_none")]
    pub default: Option<C>,
    #[serde(default = "BTreeMap::new", skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, C>,
}

fn is_http(protocol: &Protocol) -> bool {
    *protocol == Protocol::Http
}

fn none<C>() -> Option<C> {
    None
}

impl<C> Default for PerSource<C> {
    fn default() -> Self {
        PerSource {
            default: None,
            sources: BTreeMap::new(),
        }
    }
}

impl<C> PerSource<C> {
    pub fn is_empty(&self) -> bool {
        self.default.is_none() && self.sources.is_empty()
    }

    /// The setting for calls from `source` (a service name, or `None` when unknown).
    pub fn for_source(&self, source: Option<&str>) -> Option<&C> {
        source
            .and_then(|source| self.sources.get(source))
            .or(self.default.as_ref())
    }
}

/// Who may call an inbound: the first rule whose source matches decides, else `default_action`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Permissions {
    pub default_action: Action,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<PermissionEntry>,
}

impl Default for Permissions {
    fn default() -> Self {
        Permissions {
            default_action: Action::Allow,
            rules: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionEntry {
    pub source: Source,
    pub action: Action,
    pub origin: String,
    /// For a `tags` source: the services whose dataplanes carry those tags (a caller proves
    /// its service with its certificate; its tags come from its Dataplane).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundConfig {
    pub port: u16,
    pub service: String,
    #[serde(default, skip_serializing_if = "is_http")]
    pub protocol: Protocol,
    /// Most specific first; the first rule whose match accepts a request wins.
    pub rules: Vec<RuleConfig>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<TimeoutConf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<RetryConf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub circuit_breaker: Option<CircuitBreakerConf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckConf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancing: Option<LoadBalancingConf>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log: Option<AccessLogConf>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConfig {
    #[serde(rename = "match")]
    pub route_match: RouteMatch,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub filters: Vec<Filter>,
    pub backends: Vec<BackendConfig>,
    /// `TrafficRoute/<name>` or `default`.
    pub origin: String,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackendConfig {
    pub service: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    pub weight: u32,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EndpointConfig {
    pub address: String,
    pub port: u16,
    pub tags: BTreeMap<String, String>,
    pub dataplane: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

impl ProxyConfig {
    /// The services this proxy may send to: its outbounds, their route backends and mirrors
    /// (the services whose endpoints it is given).
    pub fn endpoint_services(&self) -> impl Iterator<Item = &str> {
        self.outbound.iter().flat_map(OutboundConfig::services)
    }
}

impl OutboundConfig {
    /// Every service this outbound routes or mirrors to, sorted, once each.
    pub fn services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = self
            .rules
            .iter()
            .flat_map(|rule| {
                let mirrors = rule
                    .filters
                    .iter()
                    .filter_map(|filter| filter.request_mirror.as_ref()?.backend.as_ref())
                    .map(|backend| backend.service.as_str());
                rule.backends
                    .iter()
                    .map(|backend| backend.service.as_str())
                    .chain(mirrors)
            })
            .collect();
        services.sort_unstable();
        services.dedup();
        services
    }
}

impl BackendConfig {
    /// Whether an endpoint carries every tag this backend asks for.
    pub fn accepts(&self, endpoint: &EndpointConfig) -> bool {
        self.tags
            .iter()
            .all(|(tag, value)| endpoint.tags.get(tag) == Some(value))
    }
}
