//! The REST API through the router: auth, generic resources, validation, errors, graph.

mod common;

use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use common::{PASSWORD, api};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_api::telemetry::{EdgeCounters, EdgeKey};
use weft_global::store::ZoneChange;
use weft_model::resource::{Author, parse_resources};

fn fields(body: &Value) -> Vec<String> {
    let mut fields: Vec<String> = body["error"]["details"]
        .as_array()
        .map(|details| {
            details
                .iter()
                .map(|d| d["field"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default();
    fields.sort();
    fields
}

const MESH: &str = "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\nspec: {tenant: shop-team}\n";
const SPLIT: &str = "apiVersion: weft.dev/v1alpha1
kind: TrafficRoute
metadata: {name: split, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to:
    - targetRef: {kind: Service, name: catalog}
      rules:
        - backends:
            - {service: catalog, tags: {version: v1}, weight: 80}
            - {service: catalog, tags: {version: v2}, weight: 20}
";

#[tokio::test]
async fn login_and_tokens() {
    let api = api().await;
    let (status, body) = api
        .call_as(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"username": "admin", "password": "nope"}).to_string()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"]["code"], "unauthorized");
    let (status, body) = api
        .call_as("POST", "/api/v1/auth/login", Some("{not json".into()), None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_request");
    let (status, _) = api
        .call_as(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"username": "admin", "password": PASSWORD, "extra": 1}).to_string()),
            None,
        )
        .await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "unknown fields are rejected"
    );

    let (status, body) = api.call("GET", "/api/v1/whoami", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["user"], "admin");
    assert_eq!(body["platformAdmin"], true);
    assert_eq!(body["tokenKind"], "session");

    for (token, why) in [
        (None, "no token"),
        (Some("garbage"), "garbage"),
        (Some(&api.token[..api.token.len() - 3]), "bad signature"),
    ] {
        let (status, body) = api.call_as("GET", "/api/v1/meshes", None, token).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{why}");
        assert_eq!(body["error"]["code"], "unauthorized", "{why}");
    }
    // every protected route answers 401 without a token
    for uri in [
        "/api/v1/zones",
        "/api/v1/meshes/shop",
        "/api/v1/meshes/shop/trafficroutes",
        "/api/v1/meshes/shop/graph",
        "/api/v1/meshes/shop/services",
    ] {
        let (status, _) = api.call_as("GET", uri, None, None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{uri}");
    }
}

#[tokio::test]
async fn resource_lifecycle() {
    let api = api().await;
    let (status, body) = api
        .put_yaml("/api/v1/meshes/shop/trafficroutes/split", SPLIT)
        .await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "mesh must exist first: {body}"
    );

    let (status, body) = api.put_yaml("/api/v1/meshes/shop", MESH).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api
        .put_yaml("/api/v1/meshes/shop/trafficroutes/split", SPLIT)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let version = body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        body["spec"]["to"][0]["rules"][0]["backends"][1]["weight"],
        20
    );

    let (status, body) = api
        .call("GET", "/api/v1/meshes/shop/trafficroutes", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 1);
    assert_eq!(body["items"][0]["metadata"]["name"], "split");

    // JSON works as well as YAML, and name and mesh default to the URL
    let json_route = json!({"apiVersion": "weft.dev/v1alpha1", "kind": "TrafficRoute", "metadata": {"resourceVersion": version},
        "spec": {"targetRef": {"kind": "Mesh"}, "to": [{"targetRef": {"kind": "Service", "name": "catalog"},
        "rules": [{"backends": [{"service": "catalog", "weight": 1}]}]}]}});
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop/trafficroutes/split",
            Some(json_route.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let newer = body["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(newer, version);

    // the old version is stale now
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop/trafficroutes/split",
            Some(json_route.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["error"]["code"], "conflict");
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/v1/meshes/shop/trafficroutes/split?resourceVersion={version}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/v1/meshes/shop/trafficroutes/split?resourceVersion={newer}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api
        .call("GET", "/api/v1/meshes/shop/trafficroutes/split", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, _) = api
        .call("DELETE", "/api/v1/meshes/shop/trafficroutes/split", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (status, _) = api.call("DELETE", "/api/v1/meshes/shop", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = api.call("GET", "/api/v1/meshes", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["total"], 0);
}

#[tokio::test]
async fn invalid_routes_are_rejected_with_every_field_and_change_nothing() {
    let api = api().await;
    api.put_yaml("/api/v1/meshes/shop", MESH).await;
    let (status, _) = api
        .put_yaml("/api/v1/meshes/shop/trafficroutes/split", SPLIT)
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, before) = api
        .call("GET", "/api/v1/meshes/shop/trafficroutes/split", None)
        .await;
    let revision = api.state.store.current_revision().await.unwrap();

    let cases: &[(&str, StatusCode, &[&str])] = &[
        // unknown field
        (
            "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {name: split, mesh: shop}\nspec:\n  targetRef: {kind: Mesh}\n  to: [{targetRef: {kind: Service, name: catalog}, rules: [{backends: [{service: catalog, weigth: 5}]}]}]\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            &["spec.to[0].rules[0].backends[0].weigth"],
        ),
        // negative weight, missing service, no backends at once
        (
            "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {name: split, mesh: shop}\nspec:\n  targetRef: {kind: Mesh}\n  to:\n    - targetRef: {kind: Service, name: catalog}\n      rules:\n        - backends: [{service: catalog, weight: -3}, {weight: 1}]\n        - backends: []\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            &[
                "spec.to[0].rules[0].backends[0].weight",
                "spec.to[0].rules[0].backends[1].service",
                "spec.to[0].rules[1].backends",
            ],
        ),
        // URL and manifest disagree
        (
            "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {name: other, mesh: shop}\nspec:\n  targetRef: {kind: Mesh}\n  to: [{targetRef: {kind: Service, name: catalog}, rules: [{backends: [{service: catalog}]}]}]\n",
            StatusCode::UNPROCESSABLE_ENTITY,
            &["metadata.name"],
        ),
        // not YAML at all
        ("kind: [", StatusCode::BAD_REQUEST, &[]),
    ];
    for (body, expected_status, expected_fields) in cases {
        let (status, response) = api
            .put_yaml("/api/v1/meshes/shop/trafficroutes/split", body)
            .await;
        assert_eq!(status, *expected_status, "{response}");
        assert_eq!(
            fields(&response),
            expected_fields
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>(),
            "{response}"
        );
        if status == StatusCode::UNPROCESSABLE_ENTITY {
            assert_eq!(response["error"]["code"], "validation_failed");
        }
    }
    let (_, after) = api
        .call("GET", "/api/v1/meshes/shop/trafficroutes/split", None)
        .await;
    assert_eq!(before, after, "rejected writes changed nothing");
    assert_eq!(api.state.store.current_revision().await.unwrap(), revision);
}

#[tokio::test]
async fn errors_are_json_everywhere() {
    let api = api().await;
    api.put_yaml("/api/v1/meshes/shop", MESH).await;
    let (status, body) = api.call("GET", "/api/v1/meshes/shop/moose", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = api.call("GET", "/api/v1/nothing/here", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = api.call("PATCH", "/api/v1/meshes/shop", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert!(body["error"]["message"].is_string(), "{body}");
    let dataplane = "apiVersion: weft.dev/v1alpha1\nkind: Dataplane\nmetadata: {name: dp, mesh: shop}\nspec: {networking: {address: 127.0.0.1, inbound: [{port: 1, servicePort: 2, tags: {service: a}}]}}\n";
    let (status, body) = api
        .put_yaml("/api/v1/meshes/shop/dataplanes/dp", dataplane)
        .await;
    assert_eq!(
        status,
        StatusCode::METHOD_NOT_ALLOWED,
        "dataplanes come from zones: {body}"
    );
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop/trafficroutes/x",
            Some("a".repeat(2 * 1024 * 1024)),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], "bad_request");
    let (status, body) = api
        .call("GET", "/api/v1/meshes/shop/graph?window=forever", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("window")
    );
}

#[tokio::test]
async fn services_config_and_graph() {
    let api = api().await;
    api.put_yaml("/api/v1/meshes/shop", MESH).await;
    api.put_yaml("/api/v1/meshes/shop/trafficroutes/split", SPLIT)
        .await;
    let dataplanes = "apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: web-1, mesh: shop}
spec: {networking: {address: 127.0.0.1, inbound: [{port: 8080, servicePort: 18080, tags: {service: web, version: v1}}], outbound: [{port: 9001, service: catalog}]}}
---
apiVersion: weft.dev/v1alpha1
kind: Dataplane
metadata: {name: catalog-1, mesh: shop}
spec: {networking: {address: 127.0.0.1, inbound: [{port: 8081, servicePort: 18081, tags: {service: catalog, version: v1}}]}}
";
    let changes: Vec<ZoneChange> = parse_resources(dataplanes, Author::Zone)
        .unwrap()
        .into_iter()
        .map(|mut resource| {
            weft_global::store::stamp_zone(&mut resource, "east");
            ZoneChange::Upsert(Box::new(resource))
        })
        .collect();
    assert!(
        api.state.store.register_zone("east").await.unwrap(),
        "a new zone is enabled"
    );
    api.state
        .store
        .zone_connected("east", "test", "east-store", "r1")
        .await
        .unwrap();
    api.state
        .store
        .apply_zone_changes("east", &changes, true, 2)
        .await
        .unwrap();

    let (status, body) = api.call("GET", "/api/v1/meshes/shop/services", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        body["items"][0],
        json!({"name": "catalog", "versions": ["v1"], "instances": 1, "zones": ["east"],
               "unhealthyInstances": 0, "uncheckedInstances": 1, "health": "unknown"})
    );
    // A zone reports what its proxies' health checks found.
    api.state.traffic.health.replace(
        "east",
        &[weft_api::proto::MeshEndpointHealth {
            mesh: "shop".into(),
            dataplane: "catalog-1".into(),
            port: 8081,
            healthy: false,
            reporters: 2,
        }],
    );
    let (_, body) = api.call("GET", "/api/v1/meshes/shop/services", None).await;
    assert_eq!(body["items"][0]["health"], "unhealthy", "{body}");
    assert_eq!(body["items"][0]["unhealthyInstances"], 1);

    let (status, body) = api
        .call("GET", "/api/v1/meshes/shop/dataplanes/web-1/config", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["outbound"][0]["rules"][0]["origin"],
        "TrafficRoute/split"
    );
    assert_eq!(body["endpoints"]["catalog"][0]["zone"], "east");

    let (status, body) = api.call("GET", "/api/v1/zones", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["items"][0]["kind"], "Zone");
    assert_eq!(body["items"][0]["metadata"]["name"], "east");
    assert_eq!(body["items"][0]["status"]["dataplanes"], 2);
    assert_eq!(body["items"][0]["status"]["online"], true);
    assert_eq!(body["items"][0]["status"]["version"], "test");
    let (status, body) = api.call("DELETE", "/api/v1/zones/east", None).await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a connected zone cannot be deleted: {body}"
    );

    let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap();
    let mut counters = EdgeCounters::default();
    for position in 0..60 {
        counters.record(if position % 10 == 0 { 503 } else { 200 }, 4_000);
    }
    let key = EdgeKey {
        source_service: "web".into(),
        source_version: "v1".into(),
        destination_service: "catalog".into(),
        destination_version: "v1".into(),
    };
    api.state.traffic.record("shop", now, [(key, counters)]);
    let (status, body) = api
        .call("GET", "/api/v1/meshes/shop/graph?window=60s", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let edge = &body["edges"][0];
    assert_eq!(edge["source"], "web/v1");
    assert_eq!(edge["target"], "catalog/v1");
    assert_eq!(edge["requestsPerSecond"], 1.0);
    assert_eq!(edge["health"], "failing");
    let ids: Vec<&str> = body["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["catalog/v1", "web/v1"]);

    let (status, body) = api
        .call("GET", "/api/v1/meshes/shop/graph?window=15m&ago=1s", None)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("ago"));
}

#[tokio::test]
async fn graph_stream_sends_events() {
    let api = api().await;
    api.put_yaml("/api/v1/meshes/shop", MESH).await;
    let request = Request::builder()
        .uri("/api/v1/meshes/shop/graph/stream")
        .header(header::AUTHORIZATION, format!("Bearer {}", api.token))
        .body(Body::empty())
        .unwrap();
    let response = api.router.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "text/event-stream"
    );
    let mut body = response.into_body();
    let mut received = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !received.contains("\n\n") {
        let frame = tokio::time::timeout_at(deadline, body.frame())
            .await
            .expect("an event within 10 s");
        if let Some(Ok(frame)) = frame
            && let Some(data) = frame.data_ref()
        {
            received.push_str(&String::from_utf8_lossy(data));
        }
    }
    assert!(received.starts_with("event: graph\ndata: {"), "{received}");
    let data = received
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    let graph: Value = serde_json::from_str(data).unwrap();
    assert_eq!(graph["mesh"], "shop");
    assert_eq!(graph["windowSeconds"], 10);
}

#[tokio::test]
async fn graph_streams_share_one_feed_and_are_capped_per_user() {
    use weft_global::http::graph_hub::MAX_STREAMS_PER_USER;
    let api = api().await;
    api.put_yaml("/api/v1/meshes/shop", MESH).await;
    let open = |token: String| {
        let router = api.router.clone();
        async move {
            let request = Request::builder()
                .uri("/api/v1/meshes/shop/graph/stream")
                .header(header::AUTHORIZATION, format!("Bearer {token}"))
                .body(Body::empty())
                .unwrap();
            router.oneshot(request).await.unwrap()
        }
    };
    let mut streams = Vec::new();
    for _ in 0..MAX_STREAMS_PER_USER {
        let response = open(api.token.clone()).await;
        assert_eq!(response.status(), StatusCode::OK);
        streams.push(response);
    }
    let refused = open(api.token.clone()).await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(refused.headers().contains_key(header::RETRY_AFTER));
    // Another user still gets one; every stream of the mesh shares one feed.
    let alice = open(api.login("alice").await).await;
    assert_eq!(alice.status(), StatusCode::OK);
    let hub = api.state.graph_hub.clone();
    assert_eq!(hub.feeds(), 1);
    assert_eq!(hub.open_streams(), MAX_STREAMS_PER_USER + 1);
    // Closing the streams gives the slots back and stops the feed.
    drop(streams);
    drop(alice);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while hub.open_streams() > 0 || hub.feeds() > 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "streams {} feeds {}",
            hub.open_streams(),
            hub.feeds()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(open(api.token.clone()).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn operations_endpoints_and_console() {
    let api = api().await;
    let (status, _) = api.call_as("GET", "/healthz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = api.call_as("GET", "/readyz", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.call_as("GET", "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        body.as_str()
            .unwrap()
            .contains("weft_global_http_requests_total"),
        "{body}"
    );
    let (status, body) = api.call_as("GET", "/meshes/shop", None, None).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "no console built in this test"
    );
    assert!(body.as_str().unwrap().contains("cargo xtask console"));
}

#[tokio::test]
async fn console_assets_precompressed_and_client_routes() {
    let api = api().await;
    let console = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(console.path().join("pkg")).unwrap();
    std::fs::write(
        console.path().join("index.html"),
        "<!doctype html><title>Weft</title>",
    )
    .unwrap();
    std::fs::write(console.path().join("pkg/app.wasm"), "plain").unwrap();
    std::fs::write(console.path().join("pkg/app.wasm.gz"), "gzipped").unwrap();
    let mut state = api.state.clone();
    state.console_dir = Some(console.path().to_path_buf());
    let router = weft_global::http::app(state);
    let fetch = |uri: &str, gzip: bool| {
        let mut request = Request::builder().uri(uri);
        if gzip {
            request = request.header(header::ACCEPT_ENCODING, "gzip");
        }
        router.clone().oneshot(request.body(Body::empty()).unwrap())
    };
    let response = fetch("/pkg/app.wasm", true).await.unwrap();
    assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "gzipped"
    );
    let response = fetch("/pkg/app.wasm", false).await.unwrap();
    assert!(response.headers().get(header::CONTENT_ENCODING).is_none());
    assert_eq!(
        response.into_body().collect().await.unwrap().to_bytes(),
        "plain"
    );
    // Client-side routes get the app; API paths never do.
    let response = fetch("/meshes/shop", false).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // Pages may not be framed, sniffed or run inline code (the console in Chromium runs under
    // this policy in the browser test).
    let policy = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        policy.contains("script-src 'self' 'wasm-unsafe-eval';"),
        "{policy}"
    );
    assert!(policy.contains("frame-ancestors 'none'"), "{policy}");
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    assert_eq!(
        response.headers()[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff"
    );
    assert_eq!(response.headers()[header::REFERRER_POLICY], "no-referrer");
    assert!(
        String::from_utf8_lossy(&response.into_body().collect().await.unwrap().to_bytes())
            .contains("<title>Weft")
    );
    let response = fetch("/api/v1/unknown", false).await.unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_graph_replays_the_stored_window() {
    let api = api().await;
    let (status, _) = api.put_yaml("/api/v1/meshes/shop", MESH).await;
    assert_eq!(status, StatusCode::CREATED);
    let now = u64::try_from(jiff::Timestamp::now().as_second()).unwrap();
    let edge = |destination: &str| EdgeKey {
        source_service: "web".into(),
        source_version: "v1".into(),
        destination_service: destination.into(),
        destination_version: "v1".into(),
    };
    let mut counters = EdgeCounters::default();
    counters.record(200, 1_000);
    // Five minutes ago web called orders; now it calls catalog.
    api.state
        .traffic
        .record("shop", now - 300, [(edge("orders"), counters.clone())]);
    api.state
        .traffic
        .record("shop", now, [(edge("catalog"), counters)]);
    let targets = |graph: &serde_json::Value| -> Vec<String> {
        graph["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|edge| edge["target"].as_str().unwrap().to_string())
            .collect()
    };
    let (status, then) = api
        .call("GET", "/api/v1/meshes/shop/graph?window=10s&ago=5m", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{then}");
    assert_eq!(targets(&then), ["orders/v1"]);
    let at = jiff::Timestamp::from_second(i64::try_from(now - 300).unwrap()).unwrap();
    assert_eq!(then["generatedAt"], at.to_string());
    let (_, current) = api
        .call("GET", "/api/v1/meshes/shop/graph?window=10s", None)
        .await;
    assert_eq!(targets(&current), ["catalog/v1"]);
}
