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
    let mut endpoints: BTreeMap<String, Vec<EndpointConfig>> = BTreeMap::new();
    for service in wanted {
        let inbounds = view.inbounds_of(service);
        if inbounds.is_empty() {
            continue;
        }
        let list = endpoints.entry(service.to_string()).or_default();
        for (resource, spec, inbound) in inbounds {
            list.push(EndpointConfig {
                address: spec.networking.address.clone(),
                port: super::port(inbound.port),
                tags: inbound.tags.clone(),
                dataplane: resource.name().to_string(),
                zone: resource.metadata.labels.get(ZONE_LABEL).cloned(),
            });
        }
    }
    for list in endpoints.values_mut() {
        list.sort();
    }
    endpoints
}
