//! Route rules of one outbound.
//!
//! Among the TrafficRoutes selecting the proxy, rules for the destination are flattened to one
//! entry per match; for identical matches the more precedent route wins (more specific
//! `targetRef`, then the alphabetically first name). Entries are then ordered by match
//! specificity, so the first entry accepting a request is the most specific one. A catch-all
//! sending traffic to the service itself closes the list unless a route supplies one.

use std::collections::BTreeSet;

use crate::proxy::{BackendConfig, DEFAULT_ORIGIN, RuleConfig};
use crate::resource::{Resource, Spec};
use crate::traffic_route::{RouteMatch, TrafficRouteSpec};

pub(crate) fn rules_for(selecting: &[&Resource], service: &str) -> Vec<RuleConfig> {
    let mut routes: Vec<(&str, &TrafficRouteSpec)> = selecting
        .iter()
        .filter_map(|resource| match &resource.spec {
            Spec::TrafficRoute(spec) => Some((resource.name(), spec)),
            _ => None,
        })
        .collect();
    let specificity = |spec: &TrafficRouteSpec| {
        spec.target_ref
            .as_ref()
            .map_or(0, |target| target.specificity())
    };
    routes.sort_by(|a, b| {
        specificity(b.1)
            .cmp(&specificity(a.1))
            .then_with(|| a.0.cmp(b.0))
    });

    let mut rules: Vec<RuleConfig> = Vec::new();
    let mut seen: BTreeSet<RouteMatch> = BTreeSet::new();
    for (name, spec) in routes {
        for to in spec.to.iter().filter(|to| to.service() == Some(service)) {
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
                    let route_match = route_match.normalized();
                    if seen.insert(route_match.clone()) {
                        rules.push(RuleConfig {
                            route_match,
                            filters: rule.filters.clone(),
                            backends: backends.clone(),
                            origin: format!("TrafficRoute/{name}"),
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
            filters: Vec::new(),
            backends: vec![BackendConfig {
                service: service.to_string(),
                tags: Default::default(),
                weight: 1,
            }],
            origin: DEFAULT_ORIGIN.to_string(),
        });
    }
    rules
}
