//! Builds the traffic graph of a mesh from registered services and windowed edge counters.

use std::collections::{BTreeMap, HashMap};

use weft_api::graph::{EXTERNAL_NODE, Graph, GraphEdge, GraphNode, Health, node_id};
use weft_api::telemetry::{EdgeCounters, EdgeKey};

/// Edge health thresholds on the share of 5xx responses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// At or above this share an edge is failing (DESIGN: 10 %).
    pub failing: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds { failing: 0.10 }
    }
}

fn health(counters: &EdgeCounters, thresholds: Thresholds) -> (f64, Health) {
    if counters.requests == 0 {
        return (0.0, Health::Idle);
    }
    let rate = counters.failures().min(counters.requests) as f64 / counters.requests as f64;
    let health = if rate >= thresholds.failing {
        Health::Failing
    } else if rate > 0.0 {
        Health::Degraded
    } else {
        Health::Healthy
    };
    (rate, health)
}

/// Registered dataplanes of one service version: how many, in which zones.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instances {
    pub count: usize,
    pub zones: std::collections::BTreeSet<String>,
}

/// `instances` maps (service, version) to its registered dataplanes.
pub fn build_graph(
    mesh: &str,
    window_seconds: u64,
    generated_at: String,
    instances: &BTreeMap<(String, Option<String>), Instances>,
    traffic: &HashMap<EdgeKey, EdgeCounters>,
    thresholds: Thresholds,
) -> Graph {
    let mut nodes: BTreeMap<String, GraphNode> = BTreeMap::new();
    for ((service, version), registered) in instances {
        let id = node_id(service, version.as_deref());
        nodes.insert(
            id.clone(),
            GraphNode {
                id,
                service: service.clone(),
                version: version.clone(),
                instances: registered.count,
                zones: registered.zones.iter().cloned().collect(),
            },
        );
    }
    let mut add_node = |service: &str, version: &str| -> String {
        if service.is_empty() {
            nodes
                .entry(EXTERNAL_NODE.to_string())
                .or_insert_with(|| GraphNode {
                    id: EXTERNAL_NODE.to_string(),
                    service: EXTERNAL_NODE.to_string(),
                    version: None,
                    instances: 0,
                    zones: Vec::new(),
                });
            return EXTERNAL_NODE.to_string();
        }
        let version = (!version.is_empty()).then(|| version.to_string());
        let id = node_id(service, version.as_deref());
        nodes.entry(id.clone()).or_insert_with(|| GraphNode {
            id: id.clone(),
            service: service.to_string(),
            version,
            instances: 0,
            zones: Vec::new(),
        });
        id
    };
    let seconds = window_seconds.max(1) as f64;
    let mut edges: Vec<GraphEdge> = traffic
        .iter()
        .filter(|(_, counters)| counters.requests > 0)
        .map(|(key, counters)| {
            let source = add_node(&key.source_service, &key.source_version);
            let target = add_node(&key.destination_service, &key.destination_version);
            let (error_rate, health) = health(counters, thresholds);
            let mtls_share =
                counters.mtls_requests.min(counters.requests) as f64 / counters.requests as f64;
            GraphEdge {
                source,
                target,
                requests_per_second: counters.requests as f64 / seconds,
                error_rate,
                p50_millis: counters.quantile_micros(0.5).map(|micros| micros / 1000.0),
                p99_millis: counters.quantile_micros(0.99).map(|micros| micros / 1000.0),
                retries_per_second: counters.retries as f64 / seconds,
                mtls: counters.mtls_requests >= counters.requests,
                mtls_share,
                denied_per_second: counters.denied as f64 / seconds,
                health,
            }
        })
        .collect();
    edges.sort_by(|a, b| (&a.source, &a.target).cmp(&(&b.source, &b.target)));
    Graph {
        mesh: mesh.to_string(),
        window_seconds,
        generated_at,
        nodes: nodes.into_values().collect(),
        edges,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(source: (&str, &str), destination: (&str, &str)) -> EdgeKey {
        EdgeKey {
            source_service: source.0.into(),
            source_version: source.1.into(),
            destination_service: destination.0.into(),
            destination_version: destination.1.into(),
        }
    }

    fn counters(ok: u64, failed: u64) -> EdgeCounters {
        let mut counters = EdgeCounters::default();
        (0..ok).for_each(|_| counters.record(200, 2_000));
        (0..failed).for_each(|_| counters.record(503, 2_000));
        counters
    }

    #[test]
    fn nodes_edges_and_health() {
        let mut instances = BTreeMap::new();
        let zones = |names: &[&str]| Instances {
            count: names.len(),
            zones: names.iter().map(|name| name.to_string()).collect(),
        };
        instances.insert(
            ("web".to_string(), Some("v1".to_string())),
            zones(&["east"]),
        );
        instances.insert(("orders".to_string(), None), zones(&["east", "west"]));
        let mut traffic = HashMap::new();
        traffic.insert(key(("", ""), ("web", "v1")), counters(100, 0));
        let mut catalog = counters(95, 5);
        catalog.mtls_requests = 100;
        traffic.insert(key(("web", "v1"), ("catalog", "v2")), catalog);
        // Half over mTLS (a permissive mesh), and 30 requests denied by permissions.
        let mut orders = counters(80, 20);
        orders.mtls_requests = 50;
        orders.denied = 30;
        traffic.insert(key(("web", "v1"), ("orders", "")), orders);
        // gRPC errors arrive with HTTP 200 and still fail the edge.
        let mut grpc = counters(10, 0);
        grpc.grpc_errors = 5;
        grpc.retries = 20;
        traffic.insert(key(("web", "v1"), ("payments", "")), grpc);
        let graph = build_graph(
            "shop",
            10,
            "now".into(),
            &instances,
            &traffic,
            Thresholds::default(),
        );
        let ids: Vec<&str> = graph.nodes.iter().map(|node| node.id.as_str()).collect();
        assert_eq!(
            ids,
            vec!["catalog/v2", "external", "orders", "payments", "web/v1"]
        );
        // Registered instances carry their zones; services only seen in traffic have none.
        let zones_of = |id: &str| {
            graph
                .nodes
                .iter()
                .find(|n| n.id == id)
                .unwrap()
                .zones
                .clone()
        };
        assert_eq!(zones_of("orders"), vec!["east", "west"]);
        assert!(zones_of("catalog/v2").is_empty());
        let find = |source: &str, target: &str| {
            graph
                .edges
                .iter()
                .find(|e| e.source == source && e.target == target)
                .unwrap()
                .clone()
        };
        let ingress = find("external", "web/v1");
        assert_eq!(ingress.requests_per_second, 10.0);
        assert_eq!(ingress.health, Health::Healthy);
        assert_eq!(find("web/v1", "catalog/v2").health, Health::Degraded);
        assert!(!ingress.mtls, "traffic from outside the mesh is plaintext");
        let catalog = find("web/v1", "catalog/v2");
        assert!(catalog.mtls);
        assert_eq!(catalog.mtls_share, 1.0);
        let orders = find("web/v1", "orders");
        assert_eq!(orders.health, Health::Failing);
        assert!(!orders.mtls);
        assert_eq!(orders.mtls_share, 0.5);
        assert_eq!(orders.denied_per_second, 3.0);
        let payments = find("web/v1", "payments");
        assert_eq!(payments.health, Health::Failing);
        assert_eq!(payments.error_rate, 0.5);
        assert_eq!(payments.retries_per_second, 2.0);
        assert!(ingress.p99_millis.unwrap() > 1.0);
    }
}
