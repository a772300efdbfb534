//! Which upstream serves a request: pure code, compiled once per config.
//!
//! A config's rules become [`CompiledOutbound`]s whose matches are compiled and whose backends
//! already hold their matching endpoints, so choosing an upstream is a rule scan, one random
//! number and one counter.

mod matcher;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use weft_model::dataplane::{SERVICE_TAG, VERSION_TAG};
use weft_model::proxy::{BackendConfig, EndpointConfig, OutboundConfig};

pub use matcher::{CompiledMatch, RequestFacts};

#[derive(Debug)]
pub struct CompiledOutbound {
    pub port: u16,
    pub service: String,
    pub rules: Vec<CompiledRule>,
}

#[derive(Debug)]
pub struct CompiledRule {
    pub route_match: CompiledMatch,
    pub origin: String,
    pub backends: Vec<CompiledBackend>,
    pub total_weight: u64,
}

#[derive(Debug)]
pub struct CompiledBackend {
    pub backend: BackendConfig,
    pub endpoints: Vec<Upstream>,
    next: AtomicUsize,
}

/// One concrete destination and the service/version it reports as.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    pub address: SocketAddr,
    pub service: String,
    pub version: String,
}

/// Why no upstream could be chosen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoUpstream {
    /// No rule matched (cannot happen with a default rule, kept for safety).
    NoRoute,
    /// The chosen backend has no endpoint with its tags.
    NoEndpoints {
        service: String,
        tags: BTreeMap<String, String>,
    },
}

impl std::fmt::Display for NoUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoUpstream::NoRoute => f.write_str("no route matches the request"),
            NoUpstream::NoEndpoints { service, tags } if tags.is_empty() => {
                write!(f, "no endpoints for service {service}")
            }
            NoUpstream::NoEndpoints { service, tags } => {
                let tags: Vec<String> = tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
                write!(
                    f,
                    "no endpoints for service {service} with {}",
                    tags.join(",")
                )
            }
        }
    }
}

impl CompiledOutbound {
    /// Compiles an outbound; fails when a match cannot be compiled (the config is then rejected).
    pub fn compile(
        outbound: &OutboundConfig,
        endpoints: &BTreeMap<String, Vec<EndpointConfig>>,
    ) -> Result<CompiledOutbound, String> {
        let rules = outbound
            .rules
            .iter()
            .map(|rule| {
                let backends: Vec<CompiledBackend> = rule
                    .backends
                    .iter()
                    .filter(|backend| backend.weight > 0)
                    .map(|backend| CompiledBackend {
                        backend: backend.clone(),
                        endpoints: endpoints
                            .get(&backend.service)
                            .map(|list| {
                                list.iter()
                                    .filter(|e| backend.accepts(e))
                                    .filter_map(upstream)
                                    .collect()
                            })
                            .unwrap_or_default(),
                        next: AtomicUsize::new(fastrand::usize(..1024)),
                    })
                    .collect();
                Ok(CompiledRule {
                    route_match: CompiledMatch::compile(&rule.route_match)?,
                    origin: rule.origin.clone(),
                    total_weight: backends.iter().map(|b| u64::from(b.backend.weight)).sum(),
                    backends,
                })
            })
            .collect::<Result<Vec<_>, String>>()?;
        Ok(CompiledOutbound {
            port: outbound.port,
            service: outbound.service.clone(),
            rules,
        })
    }

    /// The first rule whose match accepts the request.
    pub fn rule(&self, request: &RequestFacts<'_>) -> Option<&CompiledRule> {
        self.rules
            .iter()
            .find(|rule| rule.route_match.matches(request))
    }

    /// Chooses the upstream for a request; `roll` is a uniform random number.
    pub fn choose(
        &self,
        request: &RequestFacts<'_>,
        roll: u64,
    ) -> Result<(&CompiledRule, Upstream), NoUpstream> {
        let rule = self.rule(request).ok_or(NoUpstream::NoRoute)?;
        let backend = rule.pick(roll).ok_or(NoUpstream::NoRoute)?;
        match backend.next_endpoint() {
            Some(upstream) => Ok((rule, upstream.clone())),
            None => Err(NoUpstream::NoEndpoints {
                service: backend.backend.service.clone(),
                tags: backend.backend.tags.clone(),
            }),
        }
    }
}

impl CompiledRule {
    /// Weighted choice: backend i is chosen with probability weight_i / total.
    pub fn pick(&self, roll: u64) -> Option<&CompiledBackend> {
        if self.total_weight == 0 {
            return None;
        }
        let mut point = roll % self.total_weight;
        for backend in &self.backends {
            let weight = u64::from(backend.backend.weight);
            if point < weight {
                return Some(backend);
            }
            point -= weight;
        }
        None
    }
}

impl CompiledBackend {
    /// Round robin over the backend's endpoints.
    pub fn next_endpoint(&self) -> Option<&Upstream> {
        if self.endpoints.is_empty() {
            return None;
        }
        let position = self.next.fetch_add(1, Ordering::Relaxed) % self.endpoints.len();
        self.endpoints.get(position)
    }
}

fn upstream(endpoint: &EndpointConfig) -> Option<Upstream> {
    let ip = endpoint.address.parse().ok()?;
    Some(Upstream {
        address: SocketAddr::new(ip, endpoint.port),
        service: endpoint.tags.get(SERVICE_TAG).cloned().unwrap_or_default(),
        version: endpoint.tags.get(VERSION_TAG).cloned().unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use weft_model::proxy::RuleConfig;
    use weft_model::traffic_route::{PathMatch, RouteMatch};

    fn get(path: &str) -> RequestFacts<'_> {
        static EMPTY: std::sync::OnceLock<HeaderMap> = std::sync::OnceLock::new();
        RequestFacts {
            method: "GET",
            path,
            query: None,
            headers: EMPTY.get_or_init(HeaderMap::new),
        }
    }

    fn endpoint(port: u16, version: &str) -> EndpointConfig {
        EndpointConfig {
            address: "127.0.0.1".into(),
            port,
            tags: BTreeMap::from([
                ("service".into(), "catalog".into()),
                ("version".into(), version.into()),
            ]),
            dataplane: format!("catalog-{port}"),
            zone: None,
        }
    }

    fn backend(version: Option<&str>, weight: u32) -> BackendConfig {
        BackendConfig {
            service: "catalog".into(),
            tags: version
                .map(|v| BTreeMap::from([("version".to_string(), v.to_string())]))
                .unwrap_or_default(),
            weight,
        }
    }

    fn outbound(rules: Vec<RuleConfig>) -> CompiledOutbound {
        let endpoints = BTreeMap::from([(
            "catalog".to_string(),
            vec![
                endpoint(1001, "v1"),
                endpoint(1002, "v1"),
                endpoint(2001, "v2"),
            ],
        )]);
        CompiledOutbound::compile(
            &OutboundConfig {
                port: 9000,
                service: "catalog".into(),
                rules,
                ..Default::default()
            },
            &endpoints,
        )
        .unwrap()
    }

    fn rule(route_match: RouteMatch, backends: Vec<BackendConfig>) -> RuleConfig {
        RuleConfig {
            route_match,
            filters: Vec::new(),
            backends,
            origin: "test".into(),
        }
    }

    #[test]
    fn weights_split_exactly_over_the_roll_space() {
        let compiled = outbound(vec![rule(
            RouteMatch::default(),
            vec![backend(Some("v1"), 80), backend(Some("v2"), 20)],
        )]);
        let mut v1 = 0;
        for roll in 0..100 {
            let (_, upstream) = compiled.choose(&get("/"), roll).unwrap();
            if upstream.version == "v1" {
                v1 += 1;
            }
        }
        assert_eq!(v1, 80);
    }

    #[test]
    fn round_robin_within_a_backend() {
        let compiled = outbound(vec![rule(
            RouteMatch::default(),
            vec![backend(Some("v1"), 1)],
        )]);
        let ports: Vec<u16> = (0..4)
            .map(|_| compiled.choose(&get("/"), 0).unwrap().1.address.port())
            .collect();
        assert_eq!(ports[0], ports[2]);
        assert_eq!(ports[1], ports[3]);
        assert_ne!(ports[0], ports[1]);
    }

    #[test]
    fn first_matching_rule_wins() {
        let api = RouteMatch {
            path: Some(PathMatch {
                prefix: Some("/api".into()),
                ..Default::default()
            }),
            ..Default::default()
        };
        let compiled = outbound(vec![
            rule(api, vec![backend(Some("v2"), 1)]),
            rule(RouteMatch::default(), vec![backend(Some("v1"), 1)]),
        ]);
        assert_eq!(
            compiled.choose(&get("/api/items"), 7).unwrap().1.version,
            "v2"
        );
        assert_eq!(compiled.choose(&get("/other"), 7).unwrap().1.version, "v1");
    }

    #[test]
    fn missing_endpoints_and_zero_weights() {
        let compiled = outbound(vec![rule(
            RouteMatch::default(),
            vec![backend(Some("v3"), 1), backend(Some("v1"), 0)],
        )]);
        let error = compiled.choose(&get("/"), 0).unwrap_err();
        assert_eq!(
            error.to_string(),
            "no endpoints for service catalog with version=v3"
        );
        let empty = outbound(vec![rule(
            RouteMatch::default(),
            vec![backend(Some("v1"), 0)],
        )]);
        assert_eq!(empty.choose(&get("/"), 0).unwrap_err(), NoUpstream::NoRoute);
    }
}
