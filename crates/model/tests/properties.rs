//! Property tests: precedence is a total order; the effective configuration does not depend on
//! the order resources are listed in; decoding and validation never panic on any input.

use std::cmp::Ordering;

use proptest::prelude::*;
use serde_json::{Value, json};
use weft_model::Kind;
use weft_model::effective::precedence::{Precedence, compare};
use weft_model::effective::{MeshView, explain};
use weft_model::resource::{Author, Resource, parse_resources};

fn precedence() -> impl Strategy<Value = Precedence> {
    (
        0u8..4,
        0u8..2,
        prop::sample::select(vec!["alpha", "beta", "gamma", "delta"]),
        0usize..3,
    )
        .prop_map(|(policy, entry, name, position)| Precedence::new(policy, entry, name, position))
}

proptest! {
    #[test]
    fn precedence_is_a_total_order(a in precedence(), b in precedence(), c in precedence()) {
        // antisymmetric
        prop_assert_eq!(compare(&a, &b), compare(&b, &a).reverse());
        // equal only when identical
        prop_assert_eq!(compare(&a, &b) == Ordering::Equal, a == b);
        // transitive
        if compare(&a, &b) != Ordering::Greater && compare(&b, &c) != Ordering::Greater {
            prop_assert_ne!(compare(&a, &c), Ordering::Greater);
        }
    }
}

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
metadata: {name: catalog-1, mesh: shop}
spec: {networking: {address: 10.0.0.2, inbound: [{port: 8081, servicePort: 18081, tags: {service: catalog, version: v1}}]}}
";

fn target() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"kind": "Mesh"})),
        Just(json!({"kind": "Service", "name": "web"})),
        Just(json!({"kind": "Service", "name": "catalog"})),
        Just(json!({"kind": "Dataplane", "name": "web-1"})),
        Just(json!({"kind": "Dataplane", "tags": {"version": "v1"}})),
    ]
}

fn peer() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!({"kind": "Mesh"})),
        Just(json!({"kind": "Service", "name": "catalog"})),
        Just(json!({"kind": "Service", "name": "orders"})),
        Just(json!({"kind": "Service", "name": "web"})),
    ]
}

fn duration() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop::sample::select(vec!["100ms", "1s", "5s", "1m"]).prop_map(str::to_string))
}

/// A random Timeout, Retry, RateLimit or TrafficRoute named `name`.
fn policy(name: String) -> impl Strategy<Value = Value> {
    let timeout = (target(), prop::collection::vec((peer(), duration(), duration()), 1..3)).prop_map({
        let name = name.clone();
        move |(target, entries)| {
            let to: Vec<Value> = entries
                .into_iter()
                .map(|(peer, connect, request)| {
                    let mut default = json!({"idle": "1h"});
                    if let Some(connect) = connect { default["connect"] = json!(connect); }
                    if let Some(request) = request { default["request"] = json!(request); }
                    json!({"targetRef": peer, "default": default})
                })
                .collect();
            json!({"kind": "Timeout", "metadata": {"name": name, "mesh": "shop"}, "spec": {"targetRef": target, "to": to}})
        }
    });
    let retry = (target(), peer(), 1i64..5, prop::option::of(prop::sample::select(vec!["10ms", "50ms"]))).prop_map({
        let name = name.clone();
        move |(target, peer, attempts, base)| {
            let mut default = json!({"attempts": attempts});
            if let Some(base) = base { default["backoff"] = json!({"base": base}); }
            json!({"kind": "Retry", "metadata": {"name": name, "mesh": "shop"}, "spec": {"targetRef": target, "to": [{"targetRef": peer, "default": default}]}})
        }
    });
    let rate_limit = (target(), peer(), 1i64..1000).prop_map({
        let name = name.clone();
        move |(target, peer, requests)| {
            json!({"kind": "RateLimit", "metadata": {"name": name, "mesh": "shop"},
                   "spec": {"targetRef": target, "from": [{"targetRef": peer, "default": {"requests": requests, "interval": "1s"}}]}})
        }
    });
    let route = (target(), 0i64..100).prop_map(move |(target, weight)| {
        json!({"kind": "TrafficRoute", "metadata": {"name": name, "mesh": "shop"},
               "spec": {"targetRef": target, "to": [{"targetRef": {"kind": "Service", "name": "catalog"},
                 "rules": [{"backends": [{"service": "catalog", "tags": {"version": "v1"}, "weight": weight + 1}]}]}]}})
    });
    prop_oneof![timeout, retry, rate_limit, route]
}

fn policies() -> impl Strategy<Value = Vec<Value>> {
    (1usize..7).prop_flat_map(|count| {
        (0..count)
            .map(|i| policy(format!("policy-{i}")))
            .collect::<Vec<_>>()
    })
}

fn to_resource(mut value: Value) -> Resource {
    value["apiVersion"] = json!("weft.dev/v1alpha1");
    Resource::from_value(value, Author::User)
        .unwrap_or_else(|errors| panic!("generated policy is invalid: {errors:?}"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn merging_does_not_depend_on_input_order(policies in policies(), seed in any::<u64>()) {
        let base = parse_resources(BASE, Author::User).unwrap();
        let generated: Vec<Resource> = policies.into_iter().map(to_resource).collect();
        let mut resources: Vec<&Resource> = base.iter().chain(generated.iter()).collect();
        let reference = explain(&MeshView::new("shop", resources.iter().copied()), "web-1").unwrap();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..resources.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            resources.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let shuffled = explain(&MeshView::new("shop", resources.iter().copied()), "web-1").unwrap();
        prop_assert_eq!(reference, shuffled);
    }

    #[test]
    fn parsing_never_panics_on_text(text in "\\PC{0,400}") {
        let _ = parse_resources(&text, Author::User);
    }

    #[test]
    fn parsing_never_panics_on_yaml_like_text(text in "(apiVersion: |kind: |metadata: |spec: |\\{|\\}|\\[|\\]|- |---\n|\n|  |[a-zA-Z0-9:/]{1,8}|\"|'|&a |\\*a|!!str ){0,60}") {
        let _ = parse_resources(&text, Author::User);
    }
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
        prop::sample::select(vec![
            "Mesh",
            "Service",
            "Dataplane",
            "1s",
            "/api",
            "catalog",
            "v1"
        ])
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "targetRef",
                    "to",
                    "from",
                    "default",
                    "rules",
                    "backends",
                    "kind",
                    "name",
                    "tags",
                    "path",
                    "weight",
                    "request",
                    "x"
                ]),
                inner,
                0..6,
            )
            .prop_map(|map| Value::Object(
                map.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn validation_never_panics_on_any_spec(kind in prop::sample::select(Kind::ALL.to_vec()), spec in json_value()) {
        let mut metadata = json!({"name": "x"});
        if kind.is_mesh_scoped() { metadata["mesh"] = json!("shop"); }
        let manifest = json!({"apiVersion": "weft.dev/v1alpha1", "kind": kind.name(), "metadata": metadata, "spec": spec});
        let _ = Resource::from_value(manifest, Author::User);
    }

    #[test]
    fn mutated_examples_never_panic_and_stay_consistent(kind in prop::sample::select(Kind::ALL.to_vec()), mutation in json_value(), depth in 0usize..6, pick in any::<u64>()) {
        let mut value: Value = weft_model::manifest::parse_documents(kind.example()).unwrap().remove(0);
        // Walk `depth` steps into the spec, choosing children by `pick`, and replace what is there.
        let mut pointer = String::from("/spec");
        let mut cursor = &value["spec"];
        for step in 0..depth {
            let next = match cursor {
                Value::Object(map) if !map.is_empty() => {
                    let key = map.keys().nth((pick >> step) as usize % map.len()).cloned().unwrap();
                    pointer.push_str(&format!("/{}", key.replace('~', "~0").replace('/', "~1")));
                    &map[&key]
                }
                Value::Array(list) if !list.is_empty() => {
                    let index = (pick >> step) as usize % list.len();
                    pointer.push_str(&format!("/{index}"));
                    &list[index]
                }
                _ => break,
            };
            cursor = next;
        }
        if let Some(target) = value.pointer_mut(&pointer) {
            *target = mutation;
        }
        if let Ok(resource) = Resource::from_value(value, Author::User) {
            // Whatever is accepted survives its own round trip.
            let again = Resource::from_value(serde_json::to_value(resource.to_manifest()).unwrap(), Author::User);
            prop_assert_eq!(again.ok(), Some(resource));
        }
    }
}

/// What the proxy does with a validated pattern (dataplane/src/routing/matcher.rs).
fn proxy_compiles(pattern: &str) -> bool {
    regex::RegexBuilder::new(&weft_model::check::anchored(pattern))
        .size_limit(weft_model::check::REGEX_SIZE_LIMIT)
        .dfa_size_limit(weft_model::check::REGEX_SIZE_LIMIT)
        .build()
        .is_ok()
}

fn model_accepts(pattern: &str) -> bool {
    let mut errors = weft_model::error::Errors::default();
    weft_model::check::regex(&mut errors, "p", pattern);
    errors.is_empty()
}

#[test]
fn the_model_and_the_proxy_agree_on_ordinary_patterns() {
    for pattern in [
        "/api/v[0-9]+/.*",
        r"^\d{3}-\w+$",
        r"(?i)bearer .+",
        r"\p{Greek}+",
        r"[[:alpha:]]+",
        "a{1000}",
        "(a|b|c){200}",
        r"\w{200}",
        "(",
        "[z-a]",
        "a{5,1}",
        r"\p{NotAScript}",
        "(?P<x>a)(?P<x>b)",
        r"\",
        r"\w{4,}\p{L}\p{L}",
        r"\p{L}\p{L}",
    ] {
        assert_eq!(
            model_accepts(pattern),
            proxy_compiles(pattern),
            "{pattern:?}"
        );
    }
}

proptest! {
    /// A pattern the model accepts always compiles in the proxy.
    #[test]
    fn an_accepted_pattern_compiles_in_the_proxy(
        pattern in r"(\\w|\\d|\.|[a-c]|\(|\)|\||\*|\+|\?|\{[0-9]{1,3}\}|\{[0-9],[0-9]{0,3}\}|\[|\]|\^|\$|\(\?i\)|\\p\{L\}|-){0,40}"
    ) {
        if model_accepts(&pattern) {
            prop_assert!(proxy_compiles(&pattern), "{:?}", pattern);
        }
    }
}
