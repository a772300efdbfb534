//! The rollout controller against a real store: one replica acts at a time, a user's route
//! for the same service stops it (and is left alone), a deleted rollout takes its route along,
//! and the gates read the canary's traffic from the graph's window.

mod common;

use std::sync::Arc;

use axum::http::StatusCode;
use common::{api, mesh_in};
use weft_api::telemetry::{EdgeCounters, EdgeKey};
use weft_global::replicas::Leadership;
use weft_global::rollouts::{Controller, measure};
use weft_model::Kind;
use weft_model::rollout::RolloutSpec;

const ROLLOUT: &str = "apiVersion: weft.dev/v1alpha1\nkind: Rollout\nmetadata: {name: catalog, mesh: shop}\nspec:\n  service: catalog\n  stable: {tags: {version: v1}}\n  canary: {tags: {version: v2}}\n  steps: [20, 100]\n  interval: 1s\n";

const USER_ROUTE: &str = "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {name: mine, mesh: shop}\nspec:\n  targetRef: {kind: Mesh}\n  to:\n    - targetRef: {kind: Service, name: catalog}\n      rules: [{backends: [{service: catalog, tags: {version: v1}, weight: 100}]}]\n";

async fn with_rollout() -> common::Api {
    let api = api().await;
    let (status, body) = api
        .put_yaml("/api/v1/meshes/shop", &mesh_in("shop", "shop-team"))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = api
        .put_yaml("/api/v1/meshes/shop/rollouts/catalog", ROLLOUT)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    api
}

fn controller(api: &common::Api) -> Controller {
    controller_of(api, Some(1))
}

/// A controller on a replica that leads in `term`, or does not lead.
fn controller_of(api: &common::Api, term: Option<u64>) -> Controller {
    Controller::new(
        api.state.store.clone(),
        api.state.traffic.clone(),
        Arc::default(),
        Leadership::fixed(term),
    )
}

#[tokio::test]
async fn one_replica_acts_and_owns_the_route() {
    let api = with_rollout().await;
    let (first, second) = (controller(&api), controller_of(&api, None));
    first.step().await.unwrap();
    let route = api
        .state
        .store
        .get(Kind::TrafficRoute, "shop", "catalog")
        .await
        .unwrap()
        .expect("the rollout's route");
    assert_eq!(route.labels["weft.dev/rollout"], "catalog");
    assert_eq!(route.spec["to"][0]["rules"][0]["backends"][1]["weight"], 20);
    // A replica that does not lead changes nothing.
    let before = api.state.store.current_revision().await.unwrap();
    let history = api
        .state
        .store
        .rollout_history("shop", "catalog", None, 100)
        .await
        .unwrap()
        .len();
    second.step().await.unwrap();
    assert_eq!(api.state.store.current_revision().await.unwrap(), before);
    assert_eq!(
        api.state
            .store
            .rollout_history("shop", "catalog", None, 100)
            .await
            .unwrap()
            .len(),
        history
    );
    // Deleting the rollout takes its route along.
    let (status, _) = api
        .call("DELETE", "/api/v1/meshes/shop/rollouts/catalog", None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    first.step().await.unwrap();
    assert!(
        api.state
            .store
            .get(Kind::TrafficRoute, "shop", "catalog")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        api.state
            .store
            .rollout_state("shop", "catalog")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_users_route_for_the_service_is_a_conflict_and_is_left_alone() {
    let api = with_rollout().await;
    let (status, body) = api
        .put_yaml("/api/v1/meshes/shop/trafficroutes/mine", USER_ROUTE)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mine = api
        .state
        .store
        .get(Kind::TrafficRoute, "shop", "mine")
        .await
        .unwrap()
        .unwrap();
    controller(&api).step().await.unwrap();
    let (status, rollout) = api
        .call("GET", "/api/v1/meshes/shop/rollouts/catalog", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(rollout["status"]["phase"], "Pending", "{rollout}");
    assert!(
        rollout["status"]["reason"]
            .as_str()
            .unwrap()
            .contains("TrafficRoute \"mine\" also routes \"catalog\""),
        "{rollout}"
    );
    assert!(
        rollout["status"]["history"][0]["message"]
            .as_str()
            .unwrap()
            .starts_with("stopped:"),
        "{rollout}"
    );
    // Nothing of the user's was touched, and no route of the rollout's was made.
    let after = api
        .state
        .store
        .get(Kind::TrafficRoute, "shop", "mine")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.revision, mine.revision);
    assert!(
        api.state
            .store
            .get(Kind::TrafficRoute, "shop", "catalog")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn gates_read_the_canarys_edges_from_every_source() {
    let api = api().await;
    let spec: RolloutSpec = serde_json::from_value(serde_json::json!({
        "service": "catalog", "stable": {"tags": {"version": "v1"}},
        "canary": {"tags": {"version": "v2"}}, "steps": [100], "interval": "10s"
    }))
    .unwrap();
    let edge = |source: &str, version: &str| EdgeKey {
        source_service: source.into(),
        destination_service: "catalog".into(),
        destination_version: version.into(),
        ..EdgeKey::default()
    };
    let counters = |ok: u64, failed: u64| {
        let mut counters = EdgeCounters::default();
        for _ in 0..ok {
            counters.record(200, 2_000);
        }
        for _ in 0..failed {
            counters.record(503, 2_000);
        }
        counters
    };
    let traffic = &api.state.traffic;
    // From web in one second, from outside the mesh in the next; stable's edges do not count.
    traffic.record(
        "shop",
        100,
        [
            (edge("web", "v2"), counters(30, 10)),
            (edge("web", "v1"), counters(100, 100)),
        ],
    );
    traffic.record("shop", 101, [(edge("", "v2"), counters(10, 0))]);
    let measured = measure(traffic, "shop", &spec, 101, 10);
    assert_eq!(measured.requests, 50);
    assert_eq!(measured.success_rate, Some(80.0));
    assert!(measured.p99_millis.unwrap() <= 5.0, "{measured:?}");
    // Outside the window: nothing measured.
    let later = measure(traffic, "shop", &spec, 200, 10);
    assert_eq!((later.requests, later.success_rate), (0, None));
}
