//! Property test of incremental configuration: for any mesh and any one change to it, a proxy
//! whose recorded dependencies are not concerned by the change keeps exactly the configuration
//! it had. (The zone relies on this to recompute only the proxies a change can concern.)

use proptest::prelude::*;
use serde_json::{Value, json};
use weft_model::Spec;
use weft_model::effective::{Change, MeshView, proxy_config, proxy_config_with_dependencies};
use weft_model::resource::{Author, Resource, parse_resources};

const BASE: &str = "apiVersion: weft.dev/v1alpha1
kind: Mesh
metadata: {name: shop}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: web-1, mesh: shop}
spec: {networking: {address: 10.0.0.1, inbound: [{port: 8080, servicePort: 18080, tags: {service: web, version: v1}}], outbound: [{port: 9001, service: catalog}, {port: 9002, service: orders}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: web-2, mesh: shop}
spec: {networking: {address: 10.0.0.5, inbound: [{port: 8080, servicePort: 18080, tags: {service: web, version: v2}}], outbound: [{port: 9001, service: catalog}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: catalog-1, mesh: shop}
spec: {networking: {address: 10.0.0.2, inbound: [{port: 8081, servicePort: 18081, tags: {service: catalog, version: v1}}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: orders-1, mesh: shop}
spec: {networking: {address: 10.0.0.3, inbound: [{port: 8082, servicePort: 18082, tags: {service: orders, version: v1}}], outbound: [{port: 9003, service: billing}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: billing-1, mesh: shop}
spec: {networking: {address: 10.0.0.4, inbound: [{port: 8083, servicePort: 18083, tags: {service: billing, version: v1}}]}}
";

const PROXIES: [&str; 6] = [
    "web-1",
    "web-2",
    "catalog-1",
    "orders-1",
    "billing-1",
    "catalog-2",
];

fn target() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"kind": "Mesh"})),
        Just(json!({"kind": "Service", "name": "web"})),
        Just(json!({"kind": "Service", "name": "catalog"})),
        Just(json!({"kind": "Service", "name": "billing"})),
        Just(json!({"kind": "Dataplane", "name": "web-1"})),
        Just(json!({"kind": "Dataplane", "tags": {"version": "v2"}})),
    ]
}

fn peer() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"kind": "Mesh"})),
        Just(json!({"kind": "Service", "name": "catalog"})),
        Just(json!({"kind": "Service", "name": "billing"})),
    ]
}

fn source() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"service": "web"})),
        Just(json!({"tags": {"version": "v2"}})),
        Just(json!({"any": true})),
    ]
}

/// A random policy or route named `name`.
fn policy(name: &'static str) -> impl Strategy<Value = Value> {
    let timeout = (target(), peer()).prop_map(move |(target, peer)| {
        json!({"kind": "Timeout", "metadata": {"name": name, "mesh": "shop"},
               "spec": {"targetRef": target, "to": [{"targetRef": peer, "default": {"request": "1s"}}]}})
    });
    let rate_limit = (target(), peer(), 1i64..100).prop_map(move |(target, peer, requests)| {
        json!({"kind": "RateLimit", "metadata": {"name": name, "mesh": "shop"},
               "spec": {"targetRef": target, "from": [{"targetRef": peer, "default": {"requests": requests, "interval": "1s"}}]}})
    });
    let route = (target(), prop::sample::select(vec!["catalog", "billing"]), 1i64..100).prop_map(
        move |(target, backend, weight)| {
            json!({"kind": "TrafficRoute", "metadata": {"name": name, "mesh": "shop"},
                   "spec": {"targetRef": target, "to": [{"targetRef": {"kind": "Service", "name": "catalog"},
                     "rules": [{"backends": [{"service": backend, "weight": weight}]}]}]}})
        },
    );
    let permission = (target(), source(), any::<bool>()).prop_map(move |(target, source, allow)| {
        json!({"kind": "TrafficPermission", "metadata": {"name": name, "mesh": "shop"},
               "spec": {"targetRef": target, "from": [{"source": source, "action": if allow { "Allow" } else { "Deny" }}]}})
    });
    prop_oneof![timeout, rate_limit, route, permission]
}

const NAMES: [&str; 4] = ["policy-a", "policy-b", "policy-c", "policy-d"];

fn dataplane(name: &str, service: &str, version: &str, address: &str, calls: &[&str]) -> Value {
    let outbound: Vec<Value> = calls
        .iter()
        .enumerate()
        .map(|(index, service)| json!({"port": 9100 + index, "service": service}))
        .collect();
    json!({"kind": "Dataplane", "metadata": {"name": name, "mesh": "shop"},
           "spec": {"networking": {"address": address, "outbound": outbound,
             "inbound": [{"port": 8090, "servicePort": 18090, "tags": {"service": service, "version": version}}]}}})
}

/// One change: `Some` puts the manifest (adding or replacing), `None` deletes `.0`.
fn change() -> impl Strategy<Value = (String, Option<Value>)> {
    let put_policy = prop::sample::select(NAMES.to_vec())
        .prop_flat_map(|name| policy(name).prop_map(move |value| (name.to_string(), Some(value))));
    let delete_policy =
        prop::sample::select(NAMES.to_vec()).prop_map(|name| (name.to_string(), None));
    let put_dataplane = prop_oneof![
        Just(dataplane("catalog-2", "catalog", "v2", "10.0.0.6", &[])),
        Just(dataplane(
            "catalog-2",
            "catalog",
            "v1",
            "10.0.0.7",
            &["billing"]
        )),
        Just(dataplane("web-2", "web", "v1", "10.0.0.5", &["catalog"])),
        Just(dataplane("web-2", "web", "v2", "10.0.0.5", &["billing"])),
        Just(dataplane("billing-1", "billing", "v2", "10.0.0.4", &[])),
        Just(dataplane(
            "orders-1",
            "orders",
            "v1",
            "10.0.0.9",
            &["billing"]
        )),
    ]
    .prop_map(|value| {
        (
            value["metadata"]["name"].as_str().unwrap().to_string(),
            Some(value),
        )
    });
    let delete_dataplane = prop::sample::select(vec!["catalog-1", "billing-1", "web-2"])
        .prop_map(|name| (name.to_string(), None));
    let mesh = prop::sample::select(vec!["strict", "permissive"]).prop_map(|mode| {
        (
            "shop".to_string(),
            Some(json!({"kind": "Mesh", "metadata": {"name": "shop"}, "spec": {"mtls": {"mode": mode}}})),
        )
    });
    prop_oneof![3 => put_policy, 2 => delete_policy, 2 => put_dataplane, 1 => delete_dataplane, 1 => mesh]
}

fn to_resource(mut value: Value) -> Resource {
    value["apiVersion"] = json!("weft.dev/v1alpha1");
    Resource::from_value(value, Author::User)
        .unwrap_or_else(|errors| panic!("generated resource is invalid: {errors:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn a_proxy_not_concerned_by_a_change_keeps_its_configuration(
        policies in (policy("policy-a"), policy("policy-b"), policy("policy-c")),
        (changed, replacement) in change(),
    ) {
        let mut before = parse_resources(BASE, Author::User).unwrap();
        before.extend([policies.0, policies.1, policies.2].into_iter().map(to_resource));
        let replacement = replacement.map(to_resource);
        // Names are unique in the base, so a deletion names one resource; a put replaces the
        // resource of the same kind and name (or adds one).
        let is_changed = |resource: &Resource| {
            resource.name() == changed
                && replacement.as_ref().is_none_or(|new| new.kind() == resource.kind())
        };
        let old = before.iter().find(|resource| is_changed(resource)).cloned();
        let after: Vec<Resource> = before
            .iter()
            .filter(|resource| !is_changed(resource))
            .cloned()
            .chain(replacement.clone())
            .collect();
        let change = Change { before: old.as_ref(), after: replacement.as_ref() };
        let before_view = MeshView::new("shop", before.iter());
        let after_view = MeshView::new("shop", after.iter());
        for proxy in PROXIES {
            let Some((mut config, dependencies)) = proxy_config_with_dependencies(&before_view, proxy) else {
                continue;
            };
            // The config comes without its endpoints: those of the services it depends on.
            prop_assert!(config.endpoints.is_empty());
            config.endpoints = dependencies
                .services()
                .map(|service| (service.to_string(), before_view.endpoints(service)))
                .filter(|(_, list)| !list.is_empty())
                .collect();
            let plain = proxy_config(&before_view, proxy);
            prop_assert_eq!(Some(&config), plain.as_ref());
            let Some(now) = after.iter().find_map(|resource| match &resource.spec {
                Spec::Dataplane(spec) if resource.name() == proxy => Some(spec),
                _ => None,
            }) else {
                continue;
            };
            if !dependencies.concerned_by(proxy, now, change) {
                prop_assert_eq!(
                    Some(config),
                    proxy_config(&after_view, proxy),
                    "{} changed although the change of {} did not concern it", proxy, changed
                );
            }
        }
    }
}
