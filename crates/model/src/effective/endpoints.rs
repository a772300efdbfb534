//! Endpoints of the services a proxy may send to: every inbound of every dataplane of those
//! services, in every zone.

use std::collections::{BTreeMap, BTreeSet};

use crate::dataplane::ZONE_LABEL;
use crate::proxy::{EndpointConfig, OutboundConfig};

use super::MeshView;

pub(crate) fn for_outbound(
    view: &MeshView<'_>,
    outbound: &[OutboundConfig],
) -> BTreeMap<String, Vec<EndpointConfig>> {
    let wanted: BTreeSet<&str> = outbound.iter().flat_map(OutboundConfig::services).collect();
    wanted
        .into_iter()
        .map(|service| (service.to_string(), of_service(view, service)))
        .filter(|(_, list)| !list.is_empty())
        .collect()
}

/// Every serving inbound of `service`'s dataplanes, sorted (a proxyless application's port 0
/// names who it is, not where it listens).
pub(crate) fn of_service(view: &MeshView<'_>, service: &str) -> Vec<EndpointConfig> {
    let mut list: Vec<EndpointConfig> = view
        .inbounds_of(service)
        .iter()
        .filter(|(_, _, inbound)| inbound.port != 0)
        .map(|(resource, spec, inbound)| EndpointConfig {
            address: spec.networking.address.clone(),
            port: super::port(inbound.port),
            tags: inbound.tags.clone(),
            dataplane: resource.name().to_string(),
            zone: resource.metadata.labels.get(ZONE_LABEL).cloned(),
        })
        .collect();
    list.sort();
    list
}
