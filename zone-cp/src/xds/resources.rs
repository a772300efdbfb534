//! A proxyless application's effective configuration as xDS resources: for every listener it
//! asks for (`xds:///catalog` asks for `catalog`), an API listener with the router filter
//! whose routes come over RDS, the RouteConfiguration of that outbound, the Cluster of every
//! backend its rules send or mirror to, and each cluster's ClusterLoadAssignment.

use std::collections::{BTreeMap, BTreeSet};

use envoy_types::pb::envoy::config::listener::v3::{ApiListener, Listener};
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_connection_manager::RouteSpecifier, http_filter,
};
use envoy_types::pb::google::protobuf::Any;
use envoy_types::util::pack_any;
use weft_model::proxy::{BackendConfig, OutboundConfig, ProxyConfig};

use super::{ads_source, clusters, routes};

pub const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
pub const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
pub const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
pub const ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
/// The types served, in the order a client needs them.
pub const TYPES: [&str; 4] = [LISTENER, ROUTE, CLUSTER, ENDPOINT];

/// A short name for logs and rejections.
pub fn type_name(type_url: &str) -> &str {
    type_url.rsplit('.').next().unwrap_or(type_url)
}

/// The service a listener name is for: `catalog` and `catalog:50051` are both catalog's.
pub fn listener_service(name: &str) -> &str {
    name.split_once(':').map_or(name, |(service, _)| service)
}

/// Every resource of one configuration, by type URL, then name.
#[derive(Debug, Default)]
pub struct Snapshot {
    pub by_type: BTreeMap<&'static str, BTreeMap<String, Any>>,
}

impl Snapshot {
    /// The resources for `listeners` (names the client asked for) from `config`. A listener
    /// whose service the configuration has no outbound for is absent.
    pub fn build(config: &ProxyConfig, listeners: &BTreeSet<String>) -> Snapshot {
        let mut snapshot = Snapshot::default();
        for name in listeners {
            let service = listener_service(name);
            let Some(outbound) = config.outbound.iter().find(|o| o.service == service) else {
                continue;
            };
            snapshot.insert(LISTENER, name, pack_any(listener(name, service)));
            snapshot.insert(
                ROUTE,
                service,
                pack_any(routes::route_configuration(service, outbound)),
            );
            for backend in backends(outbound) {
                let cluster = clusters::cluster_name(&backend.service, &backend.tags);
                if snapshot.contains(CLUSTER, &cluster) {
                    continue;
                }
                // A backend service the proxy also calls directly takes that outbound's settings.
                let settings = config
                    .outbound
                    .iter()
                    .find(|o| o.service == backend.service)
                    .unwrap_or(outbound);
                let local_first = settings
                    .load_balancing
                    .as_ref()
                    .and_then(|b| b.locality.as_ref())
                    .and_then(|l| l.prefer_local_zone)
                    .unwrap_or(false);
                let endpoints = config
                    .endpoints
                    .get(&backend.service)
                    .map_or(&[][..], Vec::as_slice);
                snapshot.insert(
                    CLUSTER,
                    &cluster,
                    pack_any(clusters::cluster(&backend, settings)),
                );
                snapshot.insert(
                    ENDPOINT,
                    &cluster,
                    pack_any(clusters::load_assignment(
                        &backend,
                        endpoints,
                        config.zone.as_deref(),
                        local_first,
                    )),
                );
            }
        }
        snapshot
    }

    fn insert(&mut self, type_url: &'static str, name: &str, resource: Any) {
        self.by_type
            .entry(type_url)
            .or_default()
            .insert(name.to_string(), resource);
    }

    fn contains(&self, type_url: &str, name: &str) -> bool {
        self.by_type
            .get(type_url)
            .is_some_and(|resources| resources.contains_key(name))
    }

    /// The resources of one type.
    pub fn of(&self, type_url: &str) -> Option<&BTreeMap<String, Any>> {
        self.by_type.get(type_url)
    }
}

/// Every backend an outbound's rules send or mirror to, once each.
fn backends(outbound: &OutboundConfig) -> Vec<BackendConfig> {
    let mut list: Vec<BackendConfig> = Vec::new();
    for rule in &outbound.rules {
        let mirrors = rule
            .filters
            .iter()
            .filter_map(|f| f.request_mirror.as_ref()?.backend.as_ref())
            .map(|backend| BackendConfig {
                service: backend.service.clone(),
                tags: backend.tags.clone(),
                weight: 0,
            });
        for backend in rule.backends.iter().cloned().chain(mirrors) {
            if !list
                .iter()
                .any(|b| b.service == backend.service && b.tags == backend.tags)
            {
                list.push(backend);
            }
        }
    }
    list
}

fn listener(name: &str, service: &str) -> Listener {
    let manager = HttpConnectionManager {
        stat_prefix: service.to_string(),
        route_specifier: Some(RouteSpecifier::Rds(Rds {
            config_source: Some(ads_source()),
            route_config_name: service.to_string(),
        })),
        http_filters: vec![HttpFilter {
            name: "envoy.filters.http.router".into(),
            config_type: Some(http_filter::ConfigType::TypedConfig(pack_any(
                Router::default(),
            ))),
            ..HttpFilter::default()
        }],
        ..HttpConnectionManager::default()
    };
    Listener {
        name: name.to_string(),
        api_listener: Some(ApiListener {
            api_listener: Some(pack_any(manager)),
        }),
        ..Listener::default()
    }
}
