//! Routing and config versions on real sockets, driven directly with configs (no zone).

mod support;

use std::net::SocketAddr;

use support::*;

#[tokio::test]
async fn routes_by_weight_counts_edges_and_reports_failures() {
    let app = App::start("web-app").await;
    let v1 = App::start("catalog-v1").await;
    let v2 = App::start("catalog-v2").await;
    let (inbound_port, outbound_port) = (free_port(), free_port());
    let weighted = |endpoints, backends| {
        let mut out = outbound(outbound_port, "catalog");
        out.rules = vec![rule(backends)];
        config(
            vec![inbound(inbound_port, app.port, "web")],
            vec![out],
            endpoints,
        )
    };
    let (proxy, telemetry) = serve(weighted(
        vec![
            endpoint("catalog", "v1", v1.port),
            endpoint("catalog", "v2", v2.port),
        ],
        vec![
            backend("catalog", Some("v1"), 3),
            backend("catalog", Some("v2"), 1),
        ],
    ))
    .await;
    let client = Client::default();
    // inbound reaches the app and counts an edge from outside the mesh
    assert_eq!(client.get(inbound_port, "/").await.name(), "web-app");
    // outbound splits by weight (3:1) over 400 requests
    let mut seen_v1 = 0;
    for _ in 0..400 {
        let answer = client.get(outbound_port, "/items").await;
        assert_eq!(answer.status, 200);
        if answer.name() == "catalog-v1" {
            seen_v1 += 1;
        }
    }
    assert!(
        (250..=350).contains(&seen_v1),
        "{seen_v1} of 400 to v1, expected about 300"
    );
    let edges = telemetry.take();
    let total = |source: &str, destination: &str, version: &str| -> u64 {
        edges
            .iter()
            .filter(|(key, _)| {
                key.source_service == source
                    && key.destination_service == destination
                    && (version.is_empty() || key.destination_version == version)
            })
            .map(|(_, counters)| counters.requests)
            .sum()
    };
    assert_eq!(
        total("", "web", ""),
        1,
        "external traffic is counted at the inbound"
    );
    assert_eq!(total("web", "catalog", ""), 400);
    assert_eq!(total("web", "catalog", "v1"), seen_v1);

    // an unreachable endpoint is a 502, a backend without endpoints a 503; both are counted
    proxy
        .apply(
            2,
            weighted(
                vec![endpoint("catalog", "v1", free_port())],
                vec![backend("catalog", Some("v1"), 1)],
            ),
        )
        .await
        .unwrap();
    let answer = client.get(outbound_port, "/").await;
    assert_eq!(answer.status, 502, "{answer:?}");
    assert!(
        answer.body.contains("cannot connect to catalog"),
        "{}",
        answer.body
    );
    proxy
        .apply(
            3,
            weighted(
                vec![endpoint("catalog", "v1", v1.port)],
                vec![backend("catalog", Some("v3"), 1)],
            ),
        )
        .await
        .unwrap();
    let answer = client.get(outbound_port, "/").await;
    assert_eq!(answer.status, 503);
    assert!(
        answer
            .body
            .contains("no endpoints for service catalog with version=v3"),
        "{}",
        answer.body
    );
    assert_eq!(counted(&telemetry, "catalog").2, 2);
    proxy.stop().await;
}

#[tokio::test]
async fn a_config_whose_port_is_taken_is_rejected_and_the_old_one_keeps_serving() {
    let app = App::start("web-app").await;
    let (inbound_port, outbound_port) = (free_port(), free_port());
    let with_outbound = |port| {
        config(
            vec![inbound(inbound_port, app.port, "web")],
            vec![outbound(port, "catalog")],
            vec![],
        )
    };
    let (proxy, _) = serve(with_outbound(outbound_port)).await;
    let taken = std::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).unwrap();
    let busy = taken.local_addr().unwrap().port();
    let error = proxy.apply(2, with_outbound(busy)).await.unwrap_err();
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
    assert_eq!(
        Client::default().get(inbound_port, "/").await.name(),
        "web-app"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn a_port_can_move_between_inbound_and_outbound() {
    let app = App::start("web-app").await;
    let catalog = App::start("catalog").await;
    let port = free_port();
    let (proxy, _) = serve(config(vec![inbound(port, app.port, "web")], vec![], vec![])).await;
    let client = Client::default();
    assert_eq!(client.get(port, "/").await.name(), "web-app");
    // The same port now calls catalog.
    proxy
        .apply(
            2,
            config(
                vec![inbound(free_port(), app.port, "web")],
                vec![outbound(port, "catalog")],
                vec![endpoint("catalog", "v1", catalog.port)],
            ),
        )
        .await
        .expect("moving a port applies");
    assert_eq!(client.get(port, "/").await.name(), "catalog");
    // And back.
    proxy
        .apply(
            3,
            config(vec![inbound(port, app.port, "web")], vec![], vec![]),
        )
        .await
        .expect("moving it back applies");
    assert_eq!(client.get(port, "/").await.name(), "web-app");
    proxy.stop().await;
}

#[tokio::test]
async fn a_port_moving_to_another_address_is_closed_before_it_is_bound_again() {
    let app = App::start("web-app").await;
    let catalog = App::start("catalog").await;
    let port = free_port();
    // Inbound listeners bind the dataplane's address (127.0.0.2), outbound ones 127.0.0.1.
    let telemetry = std::sync::Arc::new(weft_dp::telemetry::Telemetry::default());
    let proxy = weft_dp::proxy::Proxy::new([127, 0, 0, 2].into(), telemetry);
    proxy
        .apply(
            1,
            config(vec![inbound(port, app.port, "web")], vec![], vec![]),
        )
        .await
        .unwrap();
    let client = Client::default();
    let inbound_address = SocketAddr::from(([127, 0, 0, 2], port));
    assert_eq!(client.get_at(inbound_address, "/").await.name(), "web-app");
    proxy
        .apply(
            2,
            config(
                vec![inbound(free_port(), app.port, "web")],
                vec![outbound(port, "catalog")],
                vec![endpoint("catalog", "v1", catalog.port)],
            ),
        )
        .await
        .expect("moving a port to another address applies");
    assert_eq!(client.get(port, "/").await.name(), "catalog");
    assert!(
        std::net::TcpStream::connect(inbound_address).is_err(),
        "the old address is closed"
    );
    proxy.stop().await;
}

#[tokio::test]
async fn stopping_lets_requests_in_flight_finish_and_refuses_new_connections() {
    use std::sync::atomic::Ordering::SeqCst;
    let app = App::start("web-app").await;
    app.behaviour.hold.store(true, SeqCst);
    let port = free_port();
    let (proxy, _) = serve(config(vec![inbound(port, app.port, "web")], vec![], vec![])).await;
    let in_flight = tokio::spawn(async move { Client::default().get(port, "/slow").await });
    eventually(
        "the request is in flight",
        std::time::Duration::from_secs(5),
        || async { (app.behaviour.in_flight.load(SeqCst) == 1).then_some(()) },
    )
    .await;
    let stopping = tokio::spawn({
        let proxy = proxy.clone();
        async move { proxy.stop().await }
    });
    eventually(
        "the port is closed",
        std::time::Duration::from_secs(5),
        || async {
            tokio::net::TcpStream::connect(loopback(port))
                .await
                .is_err()
                .then_some(())
        },
    )
    .await;
    app.behaviour.release.notify_waiters();
    let answer = in_flight.await.unwrap();
    assert_eq!(answer.status, 200, "the request in flight finished");
    stopping.await.unwrap();
}
