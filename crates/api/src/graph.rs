//! The traffic graph of one mesh.

use serde::{Deserialize, Serialize};

/// Node id of traffic that entered the mesh from outside it.
pub const EXTERNAL_NODE: &str = "external";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum Health {
    /// No requests in the window.
    Idle,
    Healthy,
    /// Some failures (5xx or gRPC errors), below the failure threshold.
    Degraded,
    /// Failures at or above the failure threshold.
    Failing,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    pub mesh: String,
    pub window_seconds: u64,
    /// RFC 3339.
    pub generated_at: String,
    pub nodes: Vec<GraphNode>,
    pub edges: Vec<GraphEdge>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GraphNode {
    /// `service` or `service/version`, or [`EXTERNAL_NODE`].
    pub id: String,
    pub service: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Registered instances (0 for services only seen in traffic).
    pub instances: usize,
    /// Zones of those instances, sorted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub zones: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct GraphEdge {
    pub source: String,
    pub target: String,
    pub requests_per_second: f64,
    /// Share of requests that failed (5xx, or a failing gRPC status), 0.0 to 1.0.
    pub error_rate: f64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p50_millis: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p99_millis: Option<f64>,
    /// Extra attempts made by retries, per second.
    #[serde(default)]
    pub retries_per_second: f64,
    /// Every request of the window travelled over mTLS.
    #[serde(default)]
    pub mtls: bool,
    /// Share of the window's requests that travelled over mTLS, 0.0 to 1.0.
    #[serde(default)]
    pub mtls_share: f64,
    /// Requests a TrafficPermission refused, per second (also counted in `requestsPerSecond`).
    #[serde(default)]
    pub denied_per_second: f64,
    pub health: Health,
}

pub fn node_id(service: &str, version: Option<&str>) -> String {
    match version {
        Some(version) if !version.is_empty() => format!("{service}/{version}"),
        _ => service.to_string(),
    }
}
