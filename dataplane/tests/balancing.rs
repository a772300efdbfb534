//! LoadBalancing and HealthCheck on real traffic.

mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering::SeqCst;
use std::time::Duration;

use support::*;
use weft_model::duration::DurationText;
use weft_model::policy::health_check::{HealthCheckConf, HttpCheck};
use weft_model::policy::load_balancing::{Algorithm, HashOn, LoadBalancingConf, Locality};

async fn names(
    client: &Client,
    port: u16,
    count: usize,
    headers: &[(&str, &str)],
) -> HashMap<String, usize> {
    let mut seen = HashMap::new();
    for _ in 0..count {
        *seen
            .entry(client.get_with(port, "/", headers).await.name())
            .or_default() += 1;
    }
    seen
}

#[tokio::test]
async fn ring_hash_keeps_a_user_on_one_endpoint() {
    let apps = [
        App::start("a").await,
        App::start("b").await,
        App::start("c").await,
    ];
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.load_balancing = Some(LoadBalancingConf {
        algorithm: Some(Algorithm::RingHash),
        hash_on: Some(HashOn {
            header: Some("x-user".into()),
            ..HashOn::default()
        }),
        locality: None,
    });
    let endpoints = apps
        .iter()
        .map(|app| endpoint("catalog", "v1", app.port))
        .collect();
    let (_proxy, _) = serve(config(vec![], vec![out], endpoints)).await;
    let client = Client::default();
    let mut homes = std::collections::HashSet::new();
    for user in ["ann", "bob", "cid", "dan", "eve", "fay", "gus", "hal"] {
        let seen = names(&client, port, 10, &[("x-user", user)]).await;
        assert_eq!(
            seen.len(),
            1,
            "{user} always lands on one endpoint: {seen:?}"
        );
        homes.extend(seen.into_keys());
    }
    assert!(homes.len() > 1, "different users spread: {homes:?}");
}

#[tokio::test]
async fn least_request_and_p2c_ewma_avoid_the_slow_endpoint() {
    for algorithm in [Algorithm::LeastRequest, Algorithm::P2CEwma] {
        let fast = App::start("fast").await;
        let slow = App::start("slow").await;
        slow.behaviour.delay_ms.store(300, SeqCst);
        let port = free_port();
        let mut out = outbound(port, "catalog");
        out.load_balancing = Some(LoadBalancingConf {
            algorithm: Some(algorithm),
            ..LoadBalancingConf::default()
        });
        let (_proxy, _) = serve(config(
            vec![],
            vec![out],
            vec![
                endpoint("catalog", "v1", fast.port),
                endpoint("catalog", "v1", slow.port),
            ],
        ))
        .await;
        let client = std::sync::Arc::new(Client::default());
        // Four callers, one request at a time each: while the slow endpoint holds a request,
        // the others go to the fast one (round robin would send the slow one every other).
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let client = client.clone();
                tokio::spawn(async move {
                    for _ in 0..15 {
                        client.get(port, "/").await;
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
        // Round robin would give the slow endpoint about half; these give it far less.
        assert!(
            slow.requests() * 2 < fast.requests(),
            "{algorithm:?}: slow {} fast {}",
            slow.requests(),
            fast.requests()
        );
    }
}

#[tokio::test]
async fn the_local_zone_is_preferred_until_it_is_unhealthy() {
    let east = App::start("east").await;
    let west = App::start("west").await;
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.load_balancing = Some(LoadBalancingConf {
        locality: Some(Locality {
            prefer_local_zone: Some(true),
            failover: None,
        }),
        ..LoadBalancingConf::default()
    });
    out.health_check = Some(HealthCheckConf {
        interval: Some(DurationText("50ms".into())),
        timeout: Some(DurationText("40ms".into())),
        unhealthy_threshold: Some(1),
        healthy_threshold: Some(1),
        http: Some(HttpCheck {
            path: "/health".into(),
            expected_statuses: vec![200],
        }),
        tcp: None,
    });
    let mut local = endpoint("catalog", "v1", east.port);
    local.zone = Some("east".into());
    let mut remote = endpoint("catalog", "v1", west.port);
    remote.zone = Some("west".into());
    let (proxy, _) = serve(config(vec![], vec![out], vec![local, remote])).await;
    let client = Client::default();
    assert_eq!(
        names(&client, port, 10, &[]).await,
        HashMap::from([("east".to_string(), 10)])
    );
    east.behaviour.health_status.store(503, SeqCst);
    eventually(
        "traffic fails over to west",
        Duration::from_secs(5),
        || async {
            (names(&client, port, 5, &[]).await == HashMap::from([("west".to_string(), 5)]))
                .then_some(())
        },
    )
    .await;
    let report = proxy.shared.health.report();
    assert!(
        report.iter().any(|h| h.port == east.port && !h.healthy),
        "{report:?}"
    );
    east.behaviour.health_status.store(200, SeqCst);
    eventually(
        "traffic comes back to east",
        Duration::from_secs(5),
        || async {
            (names(&client, port, 5, &[]).await == HashMap::from([("east".to_string(), 5)]))
                .then_some(())
        },
    )
    .await;
    assert!(
        west.behaviour.health_checks.load(SeqCst) > 0,
        "every endpoint is checked"
    );
}

#[tokio::test]
async fn tcp_health_checks_take_a_closed_endpoint_out() {
    let alive = App::start("alive").await;
    let closed = free_port();
    let port = free_port();
    let mut out = outbound(port, "catalog");
    out.health_check = Some(HealthCheckConf {
        interval: Some(DurationText("50ms".into())),
        timeout: Some(DurationText("40ms".into())),
        unhealthy_threshold: Some(1),
        tcp: Some(Default::default()),
        ..HealthCheckConf::default()
    });
    let (_proxy, _) = serve(config(
        vec![],
        vec![out],
        vec![
            endpoint("catalog", "v1", alive.port),
            endpoint("catalog", "v1", closed),
        ],
    ))
    .await;
    let client = Client::default();
    eventually(
        "only the open endpoint serves",
        Duration::from_secs(5),
        || async {
            let seen = names(&client, port, 6, &[]).await;
            (seen == HashMap::from([("alive".to_string(), 6)])).then_some(())
        },
    )
    .await;
}
