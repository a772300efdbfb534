//! Data-driven validation cases: each manifest is rejected with exactly the expected field paths.

use weft_model::resource::{Author, parse_resources};

const ROUTE_HEAD: &str =
    "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {name: r, mesh: shop}\n";

fn check(manifest: &str, expected: &[&str]) {
    let result = parse_resources(manifest, Author::User);
    match (result, expected.is_empty()) {
        (Ok(_), true) => {}
        (Ok(_), false) => panic!("accepted, expected errors at {expected:?}:\n{manifest}"),
        (Err(errors), _) => {
            let mut fields = errors.fields();
            fields.sort();
            let mut wanted = expected.to_vec();
            wanted.sort();
            assert_eq!(fields, wanted, "errors were {errors:?} for\n{manifest}");
        }
    }
}

fn route(spec: &str) -> String {
    format!("{ROUTE_HEAD}spec:\n{spec}")
}

#[test]
fn valid_route_is_accepted() {
    check(
        &route(
            "  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: catalog}
      rules:
        - matches: [{path: {prefix: /}}]
          backends:
            - {service: catalog, tags: {version: v1}, weight: 80}
            - {service: catalog, tags: {version: v2}, weight: 20}
",
        ),
        &[],
    );
}

#[test]
fn invalid_routes_name_every_failing_field() {
    let cases: &[(&str, &[&str])] = &[
        // unknown fields, several at once
        (
            "  targetRef: {kind: Mesh}
  colour: red
  to:
    - targetRef: {kind: Service, name: catalog}
      rules: [{backends: [{service: catalog, wieght: 3}]}]
",
            &["spec.colour", "spec.to[0].rules[0].backends[0].wieght"],
        ),
        // negative weight, missing service and an empty backend list in one manifest
        (
            "  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: catalog}
      rules:
        - backends: [{service: catalog, weight: 5}, {service: catalog, weight: -1}, {weight: 2}]
        - backends: []
",
            &[
                "spec.to[0].rules[0].backends[1].weight",
                "spec.to[0].rules[0].backends[2].service",
                "spec.to[0].rules[1].backends",
            ],
        ),
        ("  to: []\n", &["spec.targetRef", "spec.to"]),
        (
            "  targetRef: {kind: Service}
  to: [{targetRef: {kind: Mesh}, rules: [{backends: [{service: a}]}]}]
",
            &["spec.targetRef.name", "spec.to[0].targetRef.kind"],
        ),
        (
            "  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Service, name: a}, rules: [{matches: [{path: {prefix: x, exact: /y}}, {method: FETCH}, {path: {exact: nope}}], backends: [{service: A}]}]}]
",
            &[
                "spec.to[0].rules[0].matches[0].path",
                "spec.to[0].rules[0].matches[0].path.prefix",
                "spec.to[0].rules[0].matches[1].method",
                "spec.to[0].rules[0].matches[2].path.exact",
                "spec.to[0].rules[0].backends[0].service",
            ],
        ),
        (
            "  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Service, name: a}, rules: [{backends: [{service: a, weight: 0}]}]}]
",
            &["spec.to[0].rules[0].backends"],
        ),
        ("  targetRef: {kind: Galaxy}\n  to: []\n", &["spec.targetRef.kind"]),
        (
            "  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Service, name: a}, rules: [{backends: [{service: a, weight: seven}]}]}]
",
            &["spec.to[0].rules[0].backends[0].weight"],
        ),
    ];
    for (spec, expected) in cases {
        check(&route(spec), expected);
    }
}

#[test]
fn envelope_errors() {
    let cases: &[(&str, &[&str])] = &[
        (
            "apiVersion: v1\nkind: Mesh\nmetadata: {name: shop}\n",
            &["apiVersion"],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Moose\nmetadata: {name: shop}\n",
            &["kind"],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: Shop_1}\n",
            &["metadata.name"],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop, mesh: shop}\n",
            &["metadata.mesh"],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {name: r}\nspec: {targetRef: {kind: Mesh}, to: []}\n",
            &["metadata.mesh", "spec.to"],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop, labels: {weft.dev/zone: x}}\n",
            &["metadata.labels.weft.dev/zone"],
        ),
        // status is server-owned: ignored on input, so a manifest read from the API can be applied again
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\nstatus: {online: true}\n",
            &[],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\nstats: {}\n",
            &["stats"],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop, resourceVersion: abc}\n",
            &["metadata.resourceVersion"],
        ),
        (
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\n",
            &[],
        ),
    ];
    for (manifest, expected) in cases {
        check(manifest, expected);
    }
}

#[test]
fn dataplane_errors() {
    let head =
        "apiVersion: weft.dev/v1alpha1\nkind: Dataplane\nmetadata: {name: web-1, mesh: shop}\n";
    let cases: &[(&str, &[&str])] = &[
        (
            "spec: {networking: {address: 127.0.0.1, inbound: [{port: 8080, servicePort: 8081, tags: {service: web}}], outbound: [{port: 9000, service: catalog}]}}\n",
            &[],
        ),
        (
            "spec: {networking: {address: nowhere, inbound: [{port: 0, servicePort: 70000, tags: {}}], outbound: [{port: 9000, service: ''}]}}\n",
            &[
                "spec.networking.address",
                "spec.networking.inbound[0].port",
                "spec.networking.inbound[0].servicePort",
                "spec.networking.inbound[0].tags.service",
                "spec.networking.outbound[0].service",
            ],
        ),
        (
            "spec: {networking: {address: 10.0.0.1, inbound: [{port: 80, servicePort: 81, tags: {service: a}}], outbound: [{port: 80, service: b}]}}\n",
            &["spec.networking.outbound[0].port"],
        ),
        (
            "spec: {}\n",
            &["spec.networking.address", "spec.networking.inbound"],
        ),
    ];
    for (spec, expected) in cases {
        check(&format!("{head}{spec}"), expected);
    }
}

#[test]
fn multi_document_errors_name_the_document() {
    let body = "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: good}\n---\napiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: BAD}\n";
    check(body, &["documents[1].metadata.name"]);
}

#[test]
fn garbage_never_panics() {
    for text in [
        "",
        "---",
        "- 1\n- 2",
        "[1, 2]",
        "{\"kind\": 3}",
        "kind: [",
        "\u{0}",
        "a: *b",
        "? ? ?",
    ] {
        assert!(parse_resources(text, Author::User).is_err(), "{text:?}");
    }
}

#[test]
fn every_kind_has_a_valid_example() {
    for kind in weft_model::Kind::ALL.iter().copied() {
        let resources = parse_resources(kind.example(), Author::User)
            .unwrap_or_else(|errors| panic!("example of {kind} is invalid: {errors:?}"));
        assert_eq!(resources.len(), 1);
        assert_eq!(resources[0].kind(), kind);
        // The example survives a round trip through its typed form.
        let again = parse_resources(
            &serde_json::to_string(&resources[0].to_manifest()).unwrap(),
            Author::User,
        )
        .unwrap();
        assert_eq!(again[0], resources[0], "{kind}");
    }
}
