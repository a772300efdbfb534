//! Cross-process: a TrafficRoute written through the REST API reaches proxies in two zones and
//! splits traffic by weight; the traffic shows up in global's graph.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::Value;
use weft_e2e::api;
use weft_e2e::shop::{CANARY_ROUTE, Ports, Shop, ShopOptions};
use weft_e2e::wait_until;

fn start(work: &tempfile::TempDir) -> Shop {
    Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        ports: Ports::Free,
        admin_password: "e2e-admin-password".into(),
        console_dir: None,
        load_rps: 0.0,
        canary_route: false,
        ..ShopOptions::default()
    })
}

/// The version of catalog that served one request through web.
fn catalog_version(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body).ok()?;
    value["calls"]
        .as_array()?
        .iter()
        .find(|call| call["service"] == "catalog")?["version"]
        .as_str()
        .map(str::to_string)
}

#[test]
fn weighted_route_splits_traffic_across_zones() {
    let work = tempfile::tempdir().unwrap();
    let shop = start(&work);
    let web = shop.web();

    // Before any route, catalog traffic goes to both versions.
    let mut seen = HashMap::new();
    for _ in 0..40 {
        let (status, body) = api::text(&web.url()).expect("web answers");
        assert!(matches!(status, 200 | 500 | 502), "{status} {body}");
        if let Some(version) = catalog_version(&body) {
            *seen.entry(version).or_insert(0) += 1;
        }
    }
    assert!(
        seen.contains_key("v1") && seen.contains_key("v2"),
        "both versions serve without a route: {seen:?}"
    );

    let api = shop.global.api();
    let stored = api.apply(
        "/api/v1/meshes/shop/trafficroutes/catalog-canary",
        CANARY_ROUTE,
    );
    assert_eq!(
        stored["metadata"]["resourceVersion"]
            .as_str()
            .map(|v| v.parse::<u64>().is_ok()),
        Some(true)
    );
    web.wait_for_config("the canary route", |config| {
        config["config"]["outbound"]
            .as_array()
            .is_some_and(|outbound| {
                outbound
                    .iter()
                    .any(|o| o["rules"][0]["origin"] == "TrafficRoute/catalog-canary")
            })
    });

    let mut v1 = 0;
    let mut counted = 0;
    for _ in 0..1000 {
        let (_, body) = api::text(&web.url()).expect("web answers");
        match catalog_version(&body).as_deref() {
            Some("v1") => {
                v1 += 1;
                counted += 1;
            }
            Some("v2") => counted += 1,
            other => panic!("catalog did not answer ({other:?}): {body}"),
        }
    }
    assert_eq!(counted, 1000);
    assert!(
        (750..=850).contains(&v1),
        "expected 80 ± 5 % on v1, got {v1} of 1000"
    );

    // The proxies' telemetry reaches global's graph: web → catalog v1 and v2, across zones.
    wait_until(
        "graph edges for both catalog versions",
        Duration::from_secs(30),
        || {
            let (_, graph) = api.get("/api/v1/meshes/shop/graph?window=60s").ok()?;
            let edges = graph["edges"].as_array()?;
            let rate = |target: &str| {
                edges
                    .iter()
                    .find(|e| e["source"] == "web/v1" && e["target"] == target)
                    .and_then(|e| e["requestsPerSecond"].as_f64())
                    .unwrap_or(0.0)
            };
            (rate("catalog/v1") > 0.0 && rate("catalog/v2") > 0.0 && rate("orders/v1") > 0.0)
                .then_some(())
        },
    );
    let (_, graph) = api.get("/api/v1/meshes/shop/graph?window=60s").unwrap();
    let ids: Vec<&str> = graph["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["id"].as_str())
        .collect();
    for node in [
        "external",
        "web/v1",
        "catalog/v1",
        "catalog/v2",
        "inventory/v1",
        "orders/v1",
    ] {
        assert!(
            ids.contains(&node),
            "graph node {node} missing from {ids:?}"
        );
    }
}

#[test]
fn invalid_route_is_rejected_and_nothing_reaches_the_proxies() {
    let work = tempfile::tempdir().unwrap();
    let shop = start(&work);
    let api = shop.global.api();
    let before = shop.web().config()["version"].as_u64().unwrap();
    let invalid = "apiVersion: weft.dev/v1alpha1
kind: TrafficRoute
metadata: {name: broken, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: catalog}
      rules:
        - backends: [{service: catalog, weight: -5}, {weight: 1, colour: blue}]
        - backends: []
";
    let (status, body) = api
        .put("/api/v1/meshes/shop/trafficroutes/broken", invalid)
        .unwrap();
    assert_eq!(status, 422, "{body}");
    let mut fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    fields.sort();
    assert_eq!(
        fields,
        vec![
            "spec.to[0].rules[0].backends[0].weight",
            "spec.to[0].rules[0].backends[1].colour",
            "spec.to[0].rules[0].backends[1].service",
            "spec.to[0].rules[1].backends",
        ]
    );
    let (status, _) = api.get("/api/v1/meshes/shop/trafficroutes/broken").unwrap();
    assert_eq!(status, 404, "nothing was stored");
    // A valid write afterwards is the next thing the proxy sees: nothing of the invalid one was pushed.
    let (_, before_write) = api.get("/api/v1/meshes/shop/trafficroutes").unwrap();
    assert_eq!(before_write["total"], 0);
    assert_eq!(shop.web().config()["version"].as_u64().unwrap(), before);
}

#[test]
fn every_kind_applied_through_the_api_reaches_the_proxies() {
    let work = tempfile::tempdir().unwrap();
    let shop = start(&work);
    let api = shop.global.api();
    let examples =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../crates/model/manifests");
    let mut documents = Vec::new();
    for entry in std::fs::read_dir(&examples).unwrap() {
        let path = entry.unwrap().path();
        // Dataplanes come from zones; the other global kinds are covered by the API tests.
        if ["dataplanes", "zones", "tenants"]
            .iter()
            .any(|skip| path.ends_with(format!("{skip}.yaml")))
        {
            continue;
        }
        // Proxies act on these now: the access log goes to this test's directory.
        let access_log = work.path().join("access.log").display().to_string();
        documents.push(
            std::fs::read_to_string(path)
                .unwrap()
                .replace("/var/log/weft/access.log", &access_log),
        );
    }
    let body = documents.join("---\n");
    let agent = api::agent();
    let mut response = agent
        .post(&format!("{}/api/v1/apply", shop.global.url()))
        .header("Authorization", &format!("Bearer {}", api.token()))
        .send(&body)
        .unwrap();
    assert_eq!(
        response.status().as_u16(),
        200,
        "{}",
        response.body_mut().read_to_string().unwrap()
    );

    // web (east) calls catalog: outbound policies with their origins.
    shop.web().wait_for_config("outbound policies", |config| {
        let provenance = &config["config"]["provenance"];
        provenance["outbound[catalog].retry.attempts"] == "Retry/catalog-retries"
            && provenance["outbound[catalog].timeout.request"] == "Timeout/defaults"
            && provenance["outbound[catalog].loadBalancing.type"] == "LoadBalancing/sticky-catalog"
            && provenance["outbound[catalog].healthCheck.interval"] == "HealthCheck/catalog-health"
            && provenance["outbound[orders].circuitBreaker.maxRequests"]
                == "CircuitBreaker/defaults"
            && provenance["trace.sampling"] == "Trace/otel"
            && config["config"]["mtls"] == "permissive"
    });
    // catalog v2 (west) serves catalog: inbound policies and permissions.
    shop.instance("catalog-v2-west")
        .wait_for_config("inbound policies", |config| {
            let inbound = &config["config"]["inbound"][0];
            inbound["rateLimit"]["default"]["requests"] == 100
                && inbound["permissions"]["rules"][0]["origin"]
                    == "TrafficPermission/catalog-callers"
                && inbound["accessLog"]["default"]["format"] == "text"
        });
    shop.instance("inventory-east").wait_for_config("per-source fault injection", |config| {
        config["config"]["inbound"][0]["faultInjection"]["sources"]["catalog"]["abort"]["status"] == 503
    });
    // The route example still routes; the examples' faults (delays, aborts) and
    // per-try timeouts make some calls fail, which is what they are for.
    let routed = (0..20)
        .filter(|_| {
            let (_, body) = api::text(&shop.web().url()).expect("web answers");
            catalog_version(&body).is_some()
        })
        .count();
    assert!(routed >= 10, "only {routed} of 20 reached catalog");
}

/// The demo application `service` on a free port: the process and its port.
fn demo_app(work: &std::path::Path, service: &str) -> (weft_e2e::process::Process, u16) {
    use weft_e2e::process::{Process, binary};
    let port = weft_e2e::free_port();
    let app = Process::spawn(
        service,
        &binary("weft-demo"),
        &[
            "app".into(),
            "--service".into(),
            service.into(),
            "--listen".into(),
            format!("127.0.0.1:{port}"),
        ],
        &[],
        work,
    );
    (app, port)
}

/// A weft-dp without a zone serving `config` from a file, with `extra` arguments: the process
/// and its admin port.
fn file_proxy(
    work: &std::path::Path,
    name: &str,
    config: &Value,
    extra: &[String],
) -> (weft_e2e::process::Process, u16) {
    use weft_e2e::process::{Process, binary};
    let admin_port = weft_e2e::free_port();
    let file = work.join(format!("{name}.json"));
    std::fs::write(&file, config.to_string()).unwrap();
    let mut args = vec![
        "--config-file".to_string(),
        file.display().to_string(),
        "--admin-address".into(),
        format!("127.0.0.1:{admin_port}"),
    ];
    args.extend_from_slice(extra);
    (
        Process::spawn(name, &binary("weft-dp"), &args, &[], work),
        admin_port,
    )
}

/// The config of a proxy in front of `service`'s application on `app_port`.
fn inbound_config(mesh: &str, service: &str, port: u16, app_port: u16) -> Value {
    serde_json::json!({
        "mesh": mesh, "dataplane": format!("{service}-1"), "service": service,
        "inbound": [{"port": port, "serviceAddress": "127.0.0.1", "servicePort": app_port,
                     "tags": {"service": service, "version": "v1"}}],
        "outbound": [], "endpoints": {}
    })
}

#[test]
fn a_proxy_without_a_zone_serves_a_config_file() {
    let work = tempfile::tempdir().unwrap();
    let (_app, app_port) = demo_app(work.path(), "catalog");
    let proxy_port = weft_e2e::free_port();
    let config = inbound_config("shop", "catalog", proxy_port, app_port);
    let (_proxy, admin_port) = file_proxy(work.path(), "weft-dp", &config, &[]);
    let body = wait_until(
        "the proxy serves its file's config",
        Duration::from_secs(30),
        || {
            let (status, body) = api::text(&format!("http://127.0.0.1:{proxy_port}/"))?;
            (status == 200).then_some(body)
        },
    );
    assert!(body.contains("\"service\":\"catalog\""), "{body}");
    let (_, config) = api::text(&format!("http://127.0.0.1:{admin_port}/config")).unwrap();
    assert!(config.contains("\"zoneConnected\":false"), "{config}");
}

#[test]
fn proxies_without_a_zone_speak_mtls_with_certificates_from_a_directory() {
    let work = tempfile::tempdir().unwrap();
    let certificates = work.path().join("certificates");
    weft_e2e::certificates::write_dirs(&certificates, "shop", &["web", "catalog"]).unwrap();
    let with_certificates = |service: &str| {
        vec![
            "--certificates-dir".to_string(),
            certificates.join(service).display().to_string(),
        ]
    };
    let (_app, app_port) = demo_app(work.path(), "catalog");
    let catalog_port = weft_e2e::free_port();
    let mut catalog = inbound_config("shop", "catalog", catalog_port, app_port);
    catalog["mtls"] = "strict".into();
    let (_catalog, catalog_admin) = file_proxy(
        work.path(),
        "catalog-dp",
        &catalog,
        &with_certificates("catalog"),
    );
    let web_port = weft_e2e::free_port();
    let web = serde_json::json!({
        "mesh": "shop", "dataplane": "web-1", "service": "web", "mtls": "strict",
        "inbound": [],
        "outbound": [{"port": web_port, "service": "catalog",
                      "rules": [{"match": {}, "backends": [{"service": "catalog", "weight": 1}],
                                 "origin": "default"}]}],
        "endpoints": {"catalog": [{"address": "127.0.0.1", "port": catalog_port,
                                   "tags": {"service": "catalog", "version": "v1"},
                                   "dataplane": "catalog-1"}]}
    });
    let (_web, _) = file_proxy(work.path(), "web-dp", &web, &with_certificates("web"));
    // web's proxy reaches catalog's over mTLS with the directory's certificates.
    let body = wait_until(
        "web reaches catalog over mTLS",
        Duration::from_secs(30),
        || {
            let (status, body) = api::text(&format!("http://127.0.0.1:{web_port}/"))?;
            (status == 200).then_some(body)
        },
    );
    assert!(body.contains("\"service\":\"catalog\""), "{body}");
    // catalog holds the directory's certificate, and refuses plaintext callers.
    let (_, identity) = api::text(&format!("http://127.0.0.1:{catalog_admin}/identity")).unwrap();
    assert!(identity.contains("spiffe://shop/catalog"), "{identity}");
    assert_eq!(
        api::status(&format!("http://127.0.0.1:{catalog_port}/")),
        None,
        "a strict inbound refuses plaintext"
    );
}
