//! The backends of a proxy's routes as xDS Clusters (EDS over ADS, load balancing, outlier
//! detection, circuit breakers, connect timeout) and their ClusterLoadAssignments (the
//! backend's endpoints by zone, the proxy's own zone first when its policy prefers it).

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, OutlierDetection, circuit_breakers::Thresholds, cluster,
};
use envoy_types::pb::envoy::config::core::v3::{
    Address, ApiVersion, ConfigSource, HealthStatus, Locality, SelfConfigSource, SocketAddress,
    address, config_source::ConfigSourceSpecifier, socket_address,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, lb_endpoint,
};
use envoy_types::pb::google::protobuf::UInt32Value;
use weft_model::policy::load_balancing::Algorithm;
use weft_model::proxy::{BackendConfig, EndpointConfig, OutboundConfig};

use super::{ads_source, text_duration};

/// A backend's cluster: its service, then its tags (`catalog`, `catalog/version=v2`).
pub fn cluster_name(service: &str, tags: &BTreeMap<String, String>) -> String {
    let mut name = service.to_string();
    for (index, (tag, value)) in tags.iter().enumerate() {
        name.push(if index == 0 { '/' } else { ',' });
        name.push_str(tag);
        name.push('=');
        name.push_str(value);
    }
    name
}

/// The service and tags a cluster name was made of by [`cluster_name`]; `None` for a name it
/// cannot have made.
pub fn parse_cluster_name(name: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let (service, tags) = name.split_once('/').unwrap_or((name, ""));
    if service.is_empty() {
        return None;
    }
    let tags = tags
        .split(',')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split_once('='))
        .collect::<Option<Vec<_>>>()?;
    Some((service, tags))
}

fn count(value: Option<i64>) -> Option<UInt32Value> {
    value.map(|value| UInt32Value {
        value: u32::try_from(value.max(0)).unwrap_or(u32::MAX),
    })
}

/// The cluster of `backend`, with the settings of the outbound that routes to it.
pub fn cluster(backend: &BackendConfig, outbound: &OutboundConfig) -> Cluster {
    let name = cluster_name(&backend.service, &backend.tags);
    let algorithm = outbound
        .load_balancing
        .as_ref()
        .and_then(|balancing| balancing.algorithm);
    let lb_policy = match algorithm {
        // Envoy and gRPC have no latency-weighted choice: least request is the nearest.
        Some(Algorithm::LeastRequest | Algorithm::P2CEwma) => cluster::LbPolicy::LeastRequest,
        Some(Algorithm::RingHash) => cluster::LbPolicy::RingHash,
        Some(Algorithm::RoundRobin) | None => cluster::LbPolicy::RoundRobin,
    };
    let breaker = outbound.circuit_breaker.as_ref();
    let circuit_breakers = breaker
        .filter(|b| {
            b.max_connections.is_some()
                || b.max_pending_requests.is_some()
                || b.max_requests.is_some()
        })
        .map(|b| CircuitBreakers {
            thresholds: vec![Thresholds {
                max_connections: count(b.max_connections),
                max_pending_requests: count(b.max_pending_requests),
                max_requests: count(b.max_requests),
                ..Thresholds::default()
            }],
            ..CircuitBreakers::default()
        });
    let outlier_detection = breaker
        .and_then(|b| b.outlier_detection.as_ref())
        .map(|outlier| OutlierDetection {
            consecutive_5xx: count(outlier.consecutive_5xx),
            interval: text_duration(outlier.interval.as_ref()),
            base_ejection_time: text_duration(outlier.base_ejection_time.as_ref()),
            max_ejection_percent: count(outlier.max_ejection_percent),
            ..OutlierDetection::default()
        });
    Cluster {
        name: name.clone(),
        cluster_discovery_type: Some(cluster::ClusterDiscoveryType::Type(
            cluster::DiscoveryType::Eds as i32,
        )),
        eds_cluster_config: Some(cluster::EdsClusterConfig {
            eds_config: Some(ads_source()),
            service_name: name,
        }),
        lb_policy: lb_policy as i32,
        connect_timeout: outbound
            .timeout
            .as_ref()
            .and_then(|t| text_duration(t.connect.as_ref())),
        circuit_breakers,
        outlier_detection,
        // The application reports its load to this same server (load.rs).
        lrs_server: Some(ConfigSource {
            config_source_specifier: Some(ConfigSourceSpecifier::Self_(SelfConfigSource {
                transport_api_version: ApiVersion::V3 as i32,
            })),
            resource_api_version: ApiVersion::V3 as i32,
            ..ConfigSource::default()
        }),
        ..Cluster::default()
    }
}

/// The endpoints of `backend` by zone; with `local_first`, the proxy's `zone` is priority 0
/// and the others priority 1 (used only when no local endpoint is healthy).
pub fn load_assignment(
    backend: &BackendConfig,
    endpoints: &[EndpointConfig],
    zone: Option<&str>,
    local_first: bool,
) -> ClusterLoadAssignment {
    let mut by_zone: BTreeMap<&str, Vec<LbEndpoint>> = BTreeMap::new();
    for endpoint in endpoints.iter().filter(|e| backend.accepts(e)) {
        by_zone
            .entry(endpoint.zone.as_deref().unwrap_or_default())
            .or_default()
            .push(LbEndpoint {
                health_status: HealthStatus::Healthy as i32,
                load_balancing_weight: Some(UInt32Value { value: 1 }),
                host_identifier: Some(lb_endpoint::HostIdentifier::Endpoint(Endpoint {
                    address: Some(Address {
                        address: Some(address::Address::SocketAddress(SocketAddress {
                            address: endpoint.address.clone(),
                            port_specifier: Some(socket_address::PortSpecifier::PortValue(
                                u32::from(endpoint.port),
                            )),
                            ..SocketAddress::default()
                        })),
                    }),
                    hostname: endpoint.dataplane.clone(),
                    ..Endpoint::default()
                })),
                ..LbEndpoint::default()
            });
    }
    let any_local = local_first && zone.is_some_and(|zone| by_zone.contains_key(zone));
    ClusterLoadAssignment {
        cluster_name: cluster_name(&backend.service, &backend.tags),
        endpoints: by_zone
            .into_iter()
            .map(|(endpoint_zone, lb_endpoints)| LocalityLbEndpoints {
                locality: Some(Locality {
                    zone: endpoint_zone.to_string(),
                    ..Locality::default()
                }),
                // gRPC drops a locality without a weight: weigh it by its endpoints.
                load_balancing_weight: Some(UInt32Value {
                    value: u32::try_from(lb_endpoints.len()).unwrap_or(u32::MAX),
                }),
                priority: u32::from(any_local && Some(endpoint_zone) != zone),
                lb_endpoints,
                ..LocalityLbEndpoints::default()
            })
            .collect(),
        ..ClusterLoadAssignment::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cluster_names_read_back() {
        let tags = BTreeMap::from([
            ("version".to_string(), "v2".to_string()),
            ("zone".to_string(), "east".to_string()),
        ]);
        let name = cluster_name("catalog", &tags);
        assert_eq!(name, "catalog/version=v2,zone=east");
        assert_eq!(
            parse_cluster_name(&name),
            Some(("catalog", vec![("version", "v2"), ("zone", "east")]))
        );
        assert_eq!(parse_cluster_name("catalog"), Some(("catalog", vec![])));
        assert_eq!(parse_cluster_name("catalog/version"), None);
        assert_eq!(parse_cluster_name(""), None);
    }
}
