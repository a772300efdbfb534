//! The zone with 200 simulated proxies (weft-sim: real tokens, hellos, configs and ACKs):
//! behaviour, not time. Every proxy acknowledges every change; a change to one service's policy
//! reaches only that service's proxies and is computed for them only; a new proxy's endpoint
//! reaches only the proxies calling its service; a 100-document apply is one new config per
//! proxy; every proxy's telemetry, summed by the zone, shows every edge in global's graph.
//! (`cargo xtask bench scale` measures the same at 1,000 to 10,000 proxies.)

use std::time::Duration;

use weft_e2e::fleet;
use weft_e2e::topology::Zone;
use weft_e2e::{api, wait_until};
use weft_sim::proxies::{Fleet, ProxySpec, Received};

const PROXIES: usize = 200;
const SERVICES: usize = 20;
/// Each proxy calls the two services after its own: svc-000 calls svc-001 and svc-002.
const CALLS: usize = 2;

/// Proxies whose config count grew since `before`, and by how much in total.
fn pushed(before: &[Received], now: &[Received]) -> (usize, u64) {
    let grew: Vec<u64> = now
        .iter()
        .zip(before)
        .map(|(now, then)| now.configs - then.configs)
        .filter(|grew| *grew > 0)
        .collect();
    (grew.len(), grew.iter().sum())
}

/// How many proxy configs the zone has computed so far.
fn computed(zone: &Zone) -> f64 {
    let (_, text) = api::text(&format!("{}/metrics", zone.http_url())).unwrap_or_default();
    api::metric_sum(&text, &["weft_zone_configs_computed_total "])
}

/// Every session in the zone has applied the newest version it was sent.
fn all_acknowledged(zone: &Zone, proxies: usize) -> Option<()> {
    let (_, text) = api::text(&format!("{}/api/v1/dataplanes", zone.http_url()))?;
    let list: serde_json::Value = serde_json::from_str(&text).ok()?;
    let items = list["items"].as_array()?;
    (items.len() == proxies
        && items
            .iter()
            .all(|item| item["connected"] == true && item["ackedVersion"] == item["configVersion"]))
    .then_some(())
}

#[test]
fn two_hundred_proxies_get_exactly_the_changes_that_concern_them() {
    let work = tempfile::tempdir().unwrap();
    let (global, zone) = fleet::start(work.path());
    let api = global.api();
    let specs = fleet::proxies(&global, PROXIES, SERVICES, CALLS);
    let ca = std::fs::read_to_string(&zone.upstream().ca_file).unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let fleet = runtime
        .block_on(Fleet::start(&zone.grpc_url(), &ca, specs, 50))
        .expect("the simulated proxies connect");
    wait_until(
        "every proxy's first config",
        Duration::from_secs(60),
        || {
            let received = fleet.received();
            received.iter().all(|r| r.configs > 0).then_some(())
        },
    );
    wait_until(
        "every first config acknowledged",
        Duration::from_secs(30),
        || all_acknowledged(&zone, PROXIES),
    );
    // 200 proxies at once are no flood: the zone takes every one on its first hello.
    let received = fleet.received();
    assert!(
        received.iter().all(|r| r.retries == 0),
        "a session was refused: {:?}",
        received.iter().find_map(|r| r.ended.clone())
    );

    // One service's policy: its 10 proxies get a new config, the other 190 nothing, and the
    // zone computes those 10 configs only.
    let before = fleet.received();
    let computed_before = computed(&zone);
    api.apply(
        "/api/v1/meshes/scale/ratelimits/one-service",
        "apiVersion: weft.dev/v1alpha1\nkind: RateLimit\nmetadata: {name: one-service, mesh: scale}\nspec:\n  targetRef: {kind: Service, name: svc-000}\n  from:\n    - targetRef: {kind: Mesh}\n      default: {requests: 10, interval: 1s}\n",
    );
    let affected = PROXIES / SERVICES;
    wait_until("svc-000's proxies pushed", Duration::from_secs(30), || {
        (pushed(&before, &fleet.received()).0 >= affected).then_some(())
    });
    wait_until(
        "their new configs acknowledged",
        Duration::from_secs(30),
        || all_acknowledged(&zone, PROXIES),
    );
    let now = fleet.received();
    assert_eq!(pushed(&before, &now), (affected, affected as u64));
    assert_eq!(
        computed(&zone) - computed_before,
        affected as f64,
        "configs computed for a change that concerns {affected} proxies"
    );
    for (index, (now, then)) in now.iter().zip(&before).enumerate() {
        let concerned = index % SERVICES == 0;
        assert_eq!(now.configs > then.configs, concerned, "proxy p-{index:05}");
    }

    // A new proxy of svc-001: its endpoint goes to the proxies that call svc-001 (those of
    // svc-000 and svc-019) and to nobody else; it gets its own config.
    let before = fleet.received();
    let computed_before = computed(&zone);
    let newcomer = ProxySpec {
        name: "p-new".into(),
        port: 19_999,
        ..specs_of_service(&global, 1)
    };
    let newcomer = runtime
        .block_on(Fleet::start(&zone.grpc_url(), &ca, vec![newcomer], 1))
        .expect("the new proxy connects");
    let callers = 2 * PROXIES / SERVICES;
    wait_until(
        "the callers of svc-001 pushed",
        Duration::from_secs(30),
        || {
            (newcomer.received()[0].configs > 0 && pushed(&before, &fleet.received()).0 >= callers)
                .then_some(())
        },
    );
    wait_until(
        "their new configs acknowledged",
        Duration::from_secs(30),
        || all_acknowledged(&zone, PROXIES + 1),
    );
    let now = fleet.received();
    assert_eq!(pushed(&before, &now), (callers, callers as u64));
    for (index, (now, then)) in now.iter().zip(&before).enumerate() {
        let calls_svc_001 = matches!(index % SERVICES, 0 | 19);
        assert_eq!(
            now.configs > then.configs,
            calls_svc_001,
            "proxy p-{index:05}"
        );
    }
    assert_eq!(
        computed(&zone) - computed_before,
        (callers + 1) as f64,
        "configs computed for a new endpoint: its callers and the new proxy"
    );

    // 100 mesh-wide policies in one apply: one new config per proxy, not one per policy. The
    // proxies of svc-000 keep their more specific limit, so theirs does not change at all.
    let concerned = PROXIES - affected;
    let documents: Vec<String> = (0..100)
        .map(|index| {
            format!(
                "apiVersion: weft.dev/v1alpha1\nkind: RateLimit\nmetadata: {{name: bulk-{index:03}, mesh: scale}}\nspec:\n  targetRef: {{kind: Mesh}}\n  from:\n    - targetRef: {{kind: Mesh}}\n      default: {{requests: {}, interval: 1s}}\n",
                1_000 + index
            )
        })
        .collect();
    let before = fleet.received();
    api.apply_all(&documents.join("---\n"));
    wait_until(
        "every concerned proxy pushed",
        Duration::from_secs(60),
        || (pushed(&before, &fleet.received()).0 >= concerned).then_some(()),
    );
    wait_until(
        "every new config acknowledged",
        Duration::from_secs(60),
        || all_acknowledged(&zone, PROXIES + 1),
    );
    assert_eq!(
        pushed(&before, &fleet.received()),
        (concerned, concerned as u64),
        "one config per concerned proxy for the whole apply"
    );

    // Telemetry from every proxy, summed by the zone, makes every edge appear in global's
    // graph, and the zone drops nothing.
    fleet.report_telemetry(true);
    let edges = SERVICES * CALLS;
    wait_until("every edge in the graph", Duration::from_secs(30), || {
        let (status, graph) = api
            .get(&format!("/api/v1/meshes/{}/graph", fleet::MESH))
            .ok()?;
        (status == 200 && graph["edges"].as_array()?.len() == edges).then_some(())
    });
    // An edge shows once one proxy of its service reported; every proxy's report follows.
    let zone_metrics = || {
        api::text(&format!("{}/metrics", zone.http_url()))
            .map(|(_, text)| text)
            .unwrap_or_default()
    };
    wait_until(
        "a report of every proxy forwarded",
        Duration::from_secs(30),
        || {
            let metrics = zone_metrics();
            (api::metric_sum(&metrics, &["weft_zone_telemetry_forwarded_total "]) >= PROXIES as f64)
                .then_some(())
        },
    );
    assert_eq!(
        api::metric_sum(&zone_metrics(), &["weft_zone_telemetry_dropped_total "]),
        0.0
    );
    drop(newcomer);
    drop(fleet);
}

/// A proxy of service number `index`, with its own token, calling what its service calls.
fn specs_of_service(global: &weft_e2e::topology::Global, index: usize) -> ProxySpec {
    ProxySpec {
        mesh: fleet::MESH.into(),
        name: String::new(),
        service: fleet::service(index),
        version: "v1".into(),
        port: 0,
        calls: fleet::callees(index, SERVICES, CALLS),
        token: global
            .api()
            .dataplane_token(fleet::MESH, &fleet::service(index)),
    }
}
