//! Read views: lists of resources, services with their instances, zones.

use serde::{Deserialize, Serialize};
use weft_model::Manifest;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ResourceList {
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub items: Vec<Manifest>,
    pub total: usize,
    /// Where the next page starts (send it back as `continue`); absent on the last page.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    pub name: String,
    /// Versions seen on the service's inbound tags, sorted; instances without a version are not listed.
    pub versions: Vec<String>,
    pub instances: usize,
    pub zones: Vec<String>,
    /// Instances that the active health checks of their callers find unhealthy.
    #[serde(default)]
    pub unhealthy_instances: usize,
    /// Instances no proxy checks.
    #[serde(default)]
    pub unchecked_instances: usize,
    #[serde(default)]
    pub health: ServiceHealth,
}

/// A service's health from active checks.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub enum ServiceHealth {
    /// No instance is checked.
    #[default]
    Unknown,
    /// Every checked instance passes.
    Healthy,
    /// Some checked instances fail.
    Degraded,
    /// Every checked instance fails.
    Unhealthy,
}

impl ServiceHealth {
    pub fn from_counts(instances: usize, unhealthy: usize, unchecked: usize) -> ServiceHealth {
        let checked = instances.saturating_sub(unchecked);
        if checked == 0 {
            ServiceHealth::Unknown
        } else if unhealthy == 0 {
            ServiceHealth::Healthy
        } else if unhealthy >= checked {
            ServiceHealth::Unhealthy
        } else {
            ServiceHealth::Degraded
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ServiceList {
    pub items: Vec<ServiceView>,
    /// Where the next page starts (send it back as `continue`); absent on the last page.
    #[serde(rename = "continue", default, skip_serializing_if = "Option::is_none")]
    pub continue_token: Option<String>,
}

/// `GET …/dataplanes/{name}/policies`: which policies apply to a proxy, in which order
/// (by kind, most precedent first), why, and what came out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    pub mesh: String,
    pub dataplane: String,
    #[cfg_attr(feature = "openapi", schema(value_type = Vec<Object>))]
    pub policies: Vec<weft_model::effective::AppliedPolicy>,
    #[cfg_attr(feature = "openapi", schema(value_type = Object))]
    pub config: weft_model::proxy::ProxyConfig,
}

/// `POST /api/v1/apply`: what happened to each document, in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApplyResponse {
    pub items: Vec<ApplyItem>,
    /// True for `?dryRun=true`: nothing was written; `items` say what would happen.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
    /// For a dry run: every proxy whose configuration would change, and how.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub effects: Vec<ProxyEffect>,
}

/// What a dry run would do to one proxy.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ProxyEffect {
    pub mesh: String,
    pub dataplane: String,
    /// Policies of the applied documents that would apply to it (`Kind/name`).
    pub policies: Vec<String>,
    /// Settings of its configuration that would change (paths, at most 100).
    pub changed: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "camelCase")]
pub struct ApplyItem {
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mesh: Option<String>,
    pub name: String,
    pub resource_version: String,
    /// `created`, `configured` or `unchanged`.
    pub result: String,
}
