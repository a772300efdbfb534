//! Read views: lists of resources, services with their instances, zones.

use serde::{Deserialize, Serialize};
use weft_model::Manifest;

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceList {
    pub items: Vec<Manifest>,
    pub total: usize,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceView {
    pub name: String,
    /// Versions seen on the service's inbound tags, sorted; instances without a version are not listed.
    pub versions: Vec<String>,
    pub instances: usize,
    pub zones: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceList {
    pub items: Vec<ServiceView>,
}

/// `GET …/dataplanes/{name}/policies`: which policies apply to a proxy, in which order
/// (by kind, most precedent first), why, and what came out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PolicyReport {
    pub mesh: String,
    pub dataplane: String,
    pub policies: Vec<weft_model::effective::AppliedPolicy>,
    pub config: weft_model::proxy::ProxyConfig,
}

/// `POST /api/v1/apply`: what happened to each document, in document order.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplyResponse {
    pub items: Vec<ApplyItem>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
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
