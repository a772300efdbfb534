//! Effective proxy configuration: route precedence, rule ordering and endpoints.

use weft_model::effective::{MeshView, proxy_config};
use weft_model::proxy::ProxyConfig;
use weft_model::resource::{Author, parse_resources};

const DATAPLANES: &str = r#"
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: web-1, mesh: shop, labels: {weft.dev/zone: east}}
spec: {networking: {address: 127.0.0.1, inbound: [{port: 8080, servicePort: 18080, tags: {service: web, version: v1}}], outbound: [{port: 9001, service: catalog}, {port: 9002, service: orders}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: catalog-1, mesh: shop, labels: {weft.dev/zone: east}}
spec: {networking: {address: 127.0.0.2, inbound: [{port: 8081, servicePort: 18081, tags: {service: catalog, version: v1}}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: catalog-2, mesh: shop, labels: {weft.dev/zone: west}}
spec: {networking: {address: 127.0.0.3, inbound: [{port: 8082, servicePort: 18082, tags: {service: catalog, version: v2}}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: inventory-1, mesh: shop}
spec: {networking: {address: 127.0.0.4, inbound: [{port: 8083, servicePort: 18083, tags: {service: inventory}}]}}
"#;

fn compute(routes: &str, proxy: &str) -> ProxyConfig {
    let mut resources = parse_resources(DATAPLANES, Author::Zone).unwrap();
    if !routes.is_empty() {
        resources.extend(parse_resources(routes, Author::User).unwrap());
    }
    let view = MeshView::new("shop", resources.iter());
    proxy_config(&view, proxy).expect("the proxy is in the view")
}

fn route(name: &str, target: &str, rules: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {{name: {name}, mesh: shop}}\nspec:\n  targetRef: {target}\n  to:\n    - targetRef: {{kind: Service, name: catalog}}\n      rules: {rules}\n"
    )
}

#[test]
fn without_routes_every_outbound_goes_to_its_service() {
    let config = compute("", "web-1");
    assert_eq!(config.service, "web");
    assert_eq!(config.version.as_deref(), Some("v1"));
    assert_eq!(config.outbound.len(), 2);
    let catalog = &config.outbound[0];
    assert_eq!(catalog.rules.len(), 1);
    assert_eq!(catalog.rules[0].origin, "default");
    assert_eq!(catalog.rules[0].backends[0].service, "catalog");
    // endpoints only for services this proxy may reach, across zones
    assert_eq!(config.endpoints.keys().collect::<Vec<_>>(), vec!["catalog"]);
    let zones: Vec<_> = config.endpoints["catalog"]
        .iter()
        .map(|e| e.zone.as_deref())
        .collect();
    assert_eq!(zones, vec![Some("east"), Some("west")]);
}

#[test]
fn weighted_route_is_copied_with_its_origin() {
    let routes = route(
        "split",
        "{kind: Mesh}",
        "[{backends: [{service: catalog, tags: {version: v1}, weight: 80}, {service: catalog, tags: {version: v2}, weight: 20}]}]",
    );
    let config = compute(&routes, "web-1");
    let rules = &config.outbound[0].rules;
    assert_eq!(rules.len(), 1, "a catch-all route replaces the default");
    assert_eq!(rules[0].origin, "TrafficRoute/split");
    let weights: Vec<u32> = rules[0].backends.iter().map(|b| b.weight).collect();
    assert_eq!(weights, vec![80, 20]);
}

#[test]
fn more_specific_target_wins_then_name() {
    let all = [
        route(
            "a-mesh",
            "{kind: Mesh}",
            "[{backends: [{service: catalog, tags: {version: v1}}]}]",
        ),
        route(
            "b-service",
            "{kind: Service, name: web}",
            "[{backends: [{service: catalog, tags: {version: v2}}]}]",
        ),
        route(
            "a-service",
            "{kind: Service, name: web}",
            "[{backends: [{service: catalog}]}]",
        ),
        route(
            "other",
            "{kind: Service, name: orders}",
            "[{backends: [{service: inventory}]}]",
        ),
    ]
    .join("---\n");
    let config = compute(&all, "web-1");
    let rules = &config.outbound[0].rules;
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0].origin, "TrafficRoute/a-service");
}

#[test]
fn longer_prefixes_and_exact_paths_come_first() {
    let routes = route(
        "paths",
        "{kind: Mesh}",
        "[{matches: [{path: {prefix: /api}}], backends: [{service: catalog, tags: {version: v2}}]},
          {matches: [{path: {prefix: /api/v2}}, {path: {exact: /health}}], backends: [{service: catalog}]}]",
    );
    let config = compute(&routes, "web-1");
    let order: Vec<String> = config.outbound[0]
        .rules
        .iter()
        .map(|rule| serde_json::to_string(&rule.route_match).unwrap())
        .collect();
    assert_eq!(
        order,
        vec![
            r#"{"path":{"exact":"/health"}}"#,
            r#"{"path":{"prefix":"/api/v2"}}"#,
            r#"{"path":{"prefix":"/api"}}"#,
            "{}",
        ]
    );
    assert_eq!(config.outbound[0].rules[3].origin, "default");
}

#[test]
fn routes_for_other_sources_do_not_apply() {
    let routes = route(
        "for-orders",
        "{kind: Service, name: orders}",
        "[{backends: [{service: catalog, tags: {version: v2}}]}]",
    );
    let config = compute(&routes, "web-1");
    assert_eq!(config.outbound[0].rules[0].origin, "default");
}
