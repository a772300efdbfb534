//! The proxy on real sockets, driven directly with configs (no zone).

use std::collections::BTreeMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use weft_dp::proxy::Proxy;
use weft_dp::telemetry::Telemetry;
use weft_model::proxy::{
    BackendConfig, EndpointConfig, InboundConfig, OutboundConfig, ProxyConfig, RuleConfig,
};
use weft_model::traffic_route::RouteMatch;
use weft_testkit::free_port;

/// A tiny upstream answering with its name.
async fn upstream(name: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().fallback(get(move || async move { name }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    port
}

fn tags(service: &str, version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("service".to_string(), service.to_string()),
        ("version".to_string(), version.to_string()),
    ])
}

fn endpoint(port: u16, version: &str) -> EndpointConfig {
    EndpointConfig {
        address: "127.0.0.1".into(),
        port,
        tags: tags("catalog", version),
        dataplane: format!("c-{port}"),
        zone: None,
    }
}

fn config(
    inbound_port: u16,
    app_port: u16,
    outbound_port: u16,
    endpoints: Vec<EndpointConfig>,
    backends: Vec<BackendConfig>,
) -> ProxyConfig {
    ProxyConfig {
        mesh: "shop".into(),
        dataplane: "web-1".into(),
        service: "web".into(),
        version: Some("v1".into()),
        inbound: vec![InboundConfig {
            port: inbound_port,
            service_address: "127.0.0.1".into(),
            service_port: app_port,
            tags: tags("web", "v1"),
            ..Default::default()
        }],
        outbound: vec![OutboundConfig {
            port: outbound_port,
            service: "catalog".into(),
            rules: vec![RuleConfig {
                route_match: RouteMatch::default(),
                filters: Vec::new(),
                backends,
                origin: "test".into(),
            }],
            ..Default::default()
        }],
        endpoints: BTreeMap::from([("catalog".to_string(), endpoints)]),
        ..Default::default()
    }
}

fn backend(version: &str, weight: u32) -> BackendConfig {
    BackendConfig {
        service: "catalog".into(),
        tags: BTreeMap::from([("version".to_string(), version.to_string())]),
        weight,
    }
}

/// A minimal HTTP/1.1 GET over a fresh connection (keeps the test free of client crates).
async fn get_text(port: u16) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    stream
        .write_all(b"GET /items HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[tokio::test]
async fn routes_by_weight_counts_edges_and_reports_failures() {
    let app = upstream("web-app").await;
    let v1 = upstream("catalog-v1").await;
    let v2 = upstream("catalog-v2").await;
    let telemetry = Arc::new(Telemetry::default());
    let proxy = Proxy::new(IpAddr::V4(Ipv4Addr::LOCALHOST), telemetry.clone());
    let (inbound, outbound) = (free_port(), free_port());
    proxy
        .apply(
            1,
            config(
                inbound,
                app,
                outbound,
                vec![endpoint(v1, "v1"), endpoint(v2, "v2")],
                vec![backend("v1", 3), backend("v2", 1)],
            ),
        )
        .await
        .unwrap();

    // inbound reaches the app and counts an external edge
    assert_eq!(get_text(inbound).await, (200, "web-app".into()));
    // outbound splits by weight (3:1) over 400 requests
    let mut seen_v1 = 0;
    for _ in 0..400 {
        let (status, body) = get_text(outbound).await;
        assert_eq!(status, 200);
        if body == "catalog-v1" {
            seen_v1 += 1;
        }
    }
    assert!(
        (250..=350).contains(&seen_v1),
        "{seen_v1} of 400 to v1, expected about 300"
    );

    let edges = telemetry.take();
    let total = |source: &str, destination: &str| -> u64 {
        edges
            .iter()
            .filter(|(key, _)| {
                key.source_service == source && key.destination_service == destination
            })
            .map(|(_, counters)| counters.requests)
            .sum()
    };
    assert_eq!(
        total("", "web"),
        1,
        "external traffic is counted at the inbound"
    );
    assert_eq!(total("web", "catalog"), 400);

    // an unreachable endpoint is a 502, a backend without endpoints a 503; both are counted
    let dead = free_port();
    proxy
        .apply(
            2,
            config(
                inbound,
                app,
                outbound,
                vec![endpoint(dead, "v1")],
                vec![backend("v1", 1)],
            ),
        )
        .await
        .unwrap();
    let (status, body) = get_text(outbound).await;
    assert_eq!(status, 502, "{body}");
    assert!(body.contains("cannot connect"), "{body}");
    proxy
        .apply(
            3,
            config(
                inbound,
                app,
                outbound,
                vec![endpoint(v1, "v1")],
                vec![backend("v3", 1)],
            ),
        )
        .await
        .unwrap();
    let (status, body) = get_text(outbound).await;
    assert_eq!(status, 503);
    assert!(
        body.contains("no endpoints for service catalog with version=v3"),
        "{body}"
    );
    let failures: u64 = telemetry
        .take()
        .values()
        .map(|counters| counters.server_errors())
        .sum();
    assert_eq!(failures, 2);
    proxy.stop().await;
}

#[tokio::test]
async fn a_config_whose_port_is_taken_is_rejected_and_the_old_one_keeps_serving() {
    let app = upstream("web-app").await;
    let proxy = Proxy::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        Arc::new(Telemetry::default()),
    );
    let (inbound, outbound) = (free_port(), free_port());
    proxy
        .apply(
            1,
            config(inbound, app, outbound, vec![], vec![backend("v1", 1)]),
        )
        .await
        .unwrap();

    let taken = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let busy = taken.local_addr().unwrap().port();
    let error = proxy
        .apply(
            2,
            config(inbound, app, busy, vec![], vec![backend("v1", 1)]),
        )
        .await
        .unwrap_err();
    assert!(
        error
            .to_string()
            .contains(&format!("cannot listen on 127.0.0.1:{busy}")),
        "{error}"
    );
    assert_eq!(
        proxy.runtime().unwrap().version,
        1,
        "the rejected version was not applied"
    );
    assert_eq!(get_text(inbound).await, (200, "web-app".into()));
    proxy.stop().await;
}
