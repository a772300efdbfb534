//! What a proxy receives: its listeners, its routes with the policy that produced each,
//! and the endpoints of the services it calls. Computed by [`crate::effective`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::traffic_route::RouteMatch;

/// Origin recorded for settings no policy produced.
pub const DEFAULT_ORIGIN: &str = "default";

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProxyConfig {
    pub mesh: String,
    pub dataplane: String,
    /// Service this proxy reports its traffic as.
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub inbound: Vec<InboundConfig>,
    pub outbound: Vec<OutboundConfig>,
    /// Endpoints of every service this proxy may route to, by service name.
    pub endpoints: BTreeMap<String, Vec<EndpointConfig>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundConfig {
    pub port: u16,
    pub service_address: String,
    pub service_port: u16,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutboundConfig {
    pub port: u16,
    pub service: String,
    /// Most specific first; the first rule whose match accepts a request wins.
    pub rules: Vec<RuleConfig>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleConfig {
    #[serde(rename = "match")]
    pub route_match: RouteMatch,
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

impl BackendConfig {
    /// Whether an endpoint carries every tag this backend asks for.
    pub fn accepts(&self, endpoint: &EndpointConfig) -> bool {
        self.tags
            .iter()
            .all(|(tag, value)| endpoint.tags.get(tag) == Some(value))
    }
}
