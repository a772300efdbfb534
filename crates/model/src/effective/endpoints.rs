//! Endpoints of the services a proxy may send to: every inbound of every dataplane of those
//! services, in every zone.

use std::collections::{BTreeMap, BTreeSet};

use crate::dataplane::{SERVICE_TAG, ZONE_LABEL};
use crate::proxy::{EndpointConfig, OutboundConfig};
use crate::resource::Spec;

use super::MeshView;

pub(crate) fn for_outbound(
    view: &MeshView<'_>,
    outbound: &[OutboundConfig],
) -> BTreeMap<String, Vec<EndpointConfig>> {
    let wanted: BTreeSet<&str> = outbound.iter().flat_map(OutboundConfig::services).collect();
    let mut endpoints: BTreeMap<String, Vec<EndpointConfig>> = BTreeMap::new();
    for resource in &view.resources {
        let Spec::Dataplane(spec) = &resource.spec else {
            continue;
        };
        for inbound in &spec.networking.inbound {
            let Some(service) = inbound.tags.get(SERVICE_TAG) else {
                continue;
            };
            if !wanted.contains(service.as_str()) {
                continue;
            }
            endpoints
                .entry(service.clone())
                .or_default()
                .push(EndpointConfig {
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
