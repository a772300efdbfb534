//! The effective configuration of one proxy: a pure function of the proxy's Dataplane
//! and the resources of its mesh.
//!
//! Route precedence: a route's `targetRef` must select the proxy; among the routes that do,
//! the more specific target wins and ties break by name. Rules from every selecting route are
//! flattened to one entry per match; for identical matches the winning route's entry is kept;
//! entries are then ordered by match specificity (exact path, longer prefix, method) so the
//! first entry that accepts a request is the most specific one. A catch-all entry sending
//! traffic to the service itself closes every list unless a route already supplies one.

use std::collections::{BTreeMap, BTreeSet};

use crate::dataplane::{DataplaneSpec, SERVICE_TAG, ZONE_LABEL};
use crate::proxy::{
    BackendConfig, DEFAULT_ORIGIN, EndpointConfig, InboundConfig, OutboundConfig, ProxyConfig,
    RuleConfig,
};
use crate::traffic_route::{RouteMatch, TrafficRouteSpec};

/// A named, validated Dataplane of the mesh.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedDataplane<'a> {
    pub name: &'a str,
    pub zone: Option<&'a str>,
    pub spec: &'a DataplaneSpec,
}

/// A named, validated TrafficRoute of the mesh.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedRoute<'a> {
    pub name: &'a str,
    pub spec: &'a TrafficRouteSpec,
}

/// Everything of one mesh the computation reads.
#[derive(Clone, Debug, Default)]
pub struct MeshView<'a> {
    pub mesh: &'a str,
    pub dataplanes: Vec<NamedDataplane<'a>>,
    pub routes: Vec<NamedRoute<'a>>,
}

impl<'a> NamedDataplane<'a> {
    pub fn new(
        name: &'a str,
        labels: &'a BTreeMap<String, String>,
        spec: &'a DataplaneSpec,
    ) -> Self {
        NamedDataplane {
            name,
            zone: labels.get(ZONE_LABEL).map(String::as_str),
            spec,
        }
    }
}

pub fn proxy_config(view: &MeshView<'_>, proxy: &NamedDataplane<'_>) -> ProxyConfig {
    let (service, version) = proxy.spec.identity();
    let inbound = proxy
        .spec
        .networking
        .inbound
        .iter()
        .map(|inbound| InboundConfig {
            port: port(inbound.port),
            service_address: inbound
                .service_address
                .clone()
                .unwrap_or_else(|| "127.0.0.1".to_string()),
            service_port: port(inbound.service_port),
            tags: inbound.tags.clone(),
        })
        .collect();

    let selecting = selecting_routes(view, proxy);
    let outbound: Vec<OutboundConfig> = proxy
        .spec
        .networking
        .outbound
        .iter()
        .map(|outbound| OutboundConfig {
            port: port(outbound.port),
            service: outbound.service.clone(),
            rules: rules_for(&selecting, &outbound.service),
        })
        .collect();

    let wanted: BTreeSet<String> = outbound
        .iter()
        .flat_map(|outbound| outbound.rules.iter())
        .flat_map(|rule| rule.backends.iter())
        .map(|backend| backend.service.clone())
        .collect();
    let endpoints = endpoints(view, &wanted);

    ProxyConfig {
        mesh: view.mesh.to_string(),
        dataplane: proxy.name.to_string(),
        service,
        version,
        inbound,
        outbound,
        endpoints,
    }
}

/// Routes whose `targetRef` selects the proxy, most specific first, then by name.
fn selecting_routes<'a>(
    view: &'a MeshView<'a>,
    proxy: &NamedDataplane<'_>,
) -> Vec<&'a NamedRoute<'a>> {
    let mut selecting: Vec<&NamedRoute<'_>> = view
        .routes
        .iter()
        .filter(|route| {
            route
                .spec
                .target_ref
                .as_ref()
                .is_some_and(|target| target.selects(proxy.name, proxy.spec))
        })
        .collect();
    selecting.sort_by(|a, b| {
        let specificity = |route: &NamedRoute<'_>| {
            route
                .spec
                .target_ref
                .as_ref()
                .map_or(0, |t| t.specificity())
        };
        specificity(b)
            .cmp(&specificity(a))
            .then_with(|| a.name.cmp(b.name))
    });
    selecting
}

fn rules_for(selecting: &[&NamedRoute<'_>], service: &str) -> Vec<RuleConfig> {
    let mut rules: Vec<RuleConfig> = Vec::new();
    let mut seen: BTreeSet<RouteMatch> = BTreeSet::new();
    for route in selecting {
        for to in route
            .spec
            .to
            .iter()
            .filter(|to| to.service() == Some(service))
        {
            for rule in &to.rules {
                let backends: Vec<BackendConfig> = rule
                    .backends
                    .iter()
                    .map(|backend| BackendConfig {
                        service: backend.service.clone(),
                        tags: backend.tags.clone(),
                        weight: u32::try_from(backend.weight).unwrap_or(0),
                    })
                    .collect();
                let matches = if rule.matches.is_empty() {
                    vec![RouteMatch::default()]
                } else {
                    rule.matches.clone()
                };
                for route_match in matches {
                    let route_match = normalize(route_match);
                    if seen.insert(route_match.clone()) {
                        rules.push(RuleConfig {
                            route_match,
                            backends: backends.clone(),
                            origin: format!("TrafficRoute/{}", route.name),
                        });
                    }
                }
            }
        }
    }
    // Stable sort keeps precedence order among equally specific matches.
    rules.sort_by(|a, b| {
        b.route_match
            .specificity()
            .cmp(&a.route_match.specificity())
    });
    if !rules.iter().any(|rule| rule.route_match.is_catch_all()) {
        rules.push(RuleConfig {
            route_match: RouteMatch::default(),
            backends: vec![BackendConfig {
                service: service.to_string(),
                tags: BTreeMap::new(),
                weight: 1,
            }],
            origin: DEFAULT_ORIGIN.to_string(),
        });
    }
    rules
}

/// `prefix: /` means the same as no path match; write it one way so duplicates are found.
fn normalize(mut route_match: RouteMatch) -> RouteMatch {
    if route_match
        .path
        .as_ref()
        .is_some_and(|path| path.exact.is_none() && path.prefix.as_deref() == Some("/"))
    {
        route_match.path = None;
    }
    route_match
}

fn endpoints(
    view: &MeshView<'_>,
    wanted: &BTreeSet<String>,
) -> BTreeMap<String, Vec<EndpointConfig>> {
    let mut endpoints: BTreeMap<String, Vec<EndpointConfig>> = BTreeMap::new();
    for dataplane in &view.dataplanes {
        for inbound in &dataplane.spec.networking.inbound {
            let Some(service) = inbound.tags.get(SERVICE_TAG) else {
                continue;
            };
            if !wanted.contains(service) {
                continue;
            }
            endpoints
                .entry(service.clone())
                .or_default()
                .push(EndpointConfig {
                    address: dataplane.spec.networking.address.clone(),
                    port: port(inbound.port),
                    tags: inbound.tags.clone(),
                    dataplane: dataplane.name.to_string(),
                    zone: dataplane.zone.map(str::to_string),
                });
        }
    }
    for list in endpoints.values_mut() {
        list.sort();
    }
    endpoints
}

/// Ports were validated to 1..=65535 before a resource is stored.
fn port(value: i64) -> u16 {
    u16::try_from(value).unwrap_or(0)
}
