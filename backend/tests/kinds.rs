//! Every kind through the generic API, on SQLite and on Postgres: create, get, list, replace,
//! stale replace (409), delete; `apply` of every example at once, and an `apply` with one
//! invalid document storing nothing.

mod common;

use axum::http::StatusCode;
use common::{Api, api_with};
use serde_json::Value;
use weft_model::Kind;
use weft_testkit::postgres::PgCluster;

/// The item URL of a kind's example resource.
fn item_url(kind: Kind, name: &str) -> String {
    if kind.is_mesh_scoped() {
        format!("/api/v1/meshes/shop/{}/{name}", kind.plural())
    } else {
        format!("/api/v1/{}/{name}", kind.plural())
    }
}

fn collection_url(kind: Kind) -> String {
    if kind.is_mesh_scoped() {
        format!("/api/v1/meshes/shop/{}", kind.plural())
    } else {
        format!("/api/v1/{}", kind.plural())
    }
}

fn example_name(kind: Kind) -> String {
    let documents = weft_model::manifest::parse_documents(kind.example()).unwrap();
    documents[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Writable kinds, the tenant and then the mesh first (the mesh belongs to the tenant,
/// everything else lives in the mesh).
fn writable() -> Vec<Kind> {
    let mut kinds: Vec<Kind> = Kind::ALL
        .iter()
        .copied()
        .filter(|kind| *kind != Kind::Dataplane)
        .collect();
    kinds.sort_by_key(|kind| match kind {
        Kind::Tenant => 0,
        Kind::Mesh => 1,
        _ => 2,
    });
    kinds
}

/// The harness made the example tenant; these tests make it themselves.
async fn without_the_example_tenant(api: &Api) {
    let (status, body) = api.call("DELETE", "/api/v1/tenants/shop-team", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
}

async fn lifecycle_of_every_kind(api: &Api) {
    without_the_example_tenant(api).await;
    for kind in writable() {
        let name = example_name(kind);
        let url = item_url(kind, &name);
        let (status, created) = api.put_yaml(&url, kind.example()).await;
        assert_eq!(status, StatusCode::CREATED, "{kind}: {created}");
        let version = created["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();

        let (status, fetched) = api.call("GET", &url, None).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        assert_eq!(fetched["spec"], created["spec"], "{kind}");
        assert_eq!(fetched["kind"], kind.name());

        let (status, list) = api.call("GET", &collection_url(kind), None).await;
        assert_eq!(status, StatusCode::OK, "{kind}");
        assert!(
            list["items"]
                .as_array()
                .unwrap()
                .iter()
                .any(|item| item["metadata"]["name"] == name.as_str()),
            "{kind}: {list}"
        );

        // Replace, sending back the version read: a new version.
        let mut changed: Value = fetched.clone();
        changed["metadata"]["labels"]["reviewed"] = Value::String("yes".into());
        let (status, replaced) = api.call("PUT", &url, Some(changed.to_string())).await;
        assert_eq!(status, StatusCode::OK, "{kind}: {replaced}");
        let newer = replaced["metadata"]["resourceVersion"]
            .as_str()
            .unwrap()
            .to_string();
        assert_ne!(newer, version, "{kind}");

        // The version read first is stale now.
        let (status, conflict) = api.call("PUT", &url, Some(changed.to_string())).await;
        assert_eq!(status, StatusCode::CONFLICT, "{kind}: {conflict}");
        let (status, _) = api
            .call("DELETE", &format!("{url}?resourceVersion={version}"), None)
            .await;
        assert_eq!(status, StatusCode::CONFLICT, "{kind}");
    }
    // Delete in reverse, the mesh and then the tenant last.
    for kind in writable().into_iter().rev() {
        let url = item_url(kind, &example_name(kind));
        let (status, body) = api.call("DELETE", &url, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{kind}: {body}");
        let (status, _) = api.call("GET", &url, None).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{kind}");
    }
    // Dataplanes are read-only here: they come from zones.
    let (status, body) = api
        .put_yaml(
            "/api/v1/meshes/shop/dataplanes/web-1",
            Kind::Dataplane.example(),
        )
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

async fn apply_all_or_nothing(api: &Api) {
    without_the_example_tenant(api).await;
    let all: Vec<&str> = writable().into_iter().map(Kind::example).collect();
    let body = all.join("---\n");
    let (status, applied) = api.call("POST", "/api/v1/apply", Some(body.clone())).await;
    assert_eq!(status, StatusCode::OK, "{applied}");
    let results: Vec<&str> = applied["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["result"].as_str().unwrap())
        .collect();
    assert_eq!(results.len(), all.len());
    assert!(
        results.iter().all(|result| *result == "created"),
        "{applied}"
    );
    assert_eq!(
        applied["items"][0]["kind"], "Tenant",
        "document order is kept"
    );

    let (_, again) = api.call("POST", "/api/v1/apply", Some(body.clone())).await;
    assert!(
        again["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["result"] == "unchanged"),
        "{again}"
    );

    let revision = api.state.store.current_revision().await.unwrap();
    let broken = format!(
        "{}---\napiVersion: weft.dev/v1alpha1\nkind: Timeout\nmetadata: {{name: broken, mesh: shop}}\nspec:\n  targetRef: {{kind: Mesh}}\n  to: [{{targetRef: {{kind: Mesh}}, default: {{connect: soon}}}}]\n",
        Kind::Retry.example().replace("attempts: 3", "attempts: 4")
    );
    let (status, rejected) = api.call("POST", "/api/v1/apply", Some(broken)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{rejected}");
    assert_eq!(
        rejected["error"]["details"][0]["field"],
        "documents[1].spec.to[0].default.connect"
    );
    assert_eq!(
        api.state.store.current_revision().await.unwrap(),
        revision,
        "nothing was stored"
    );
    let (_, retry) = api
        .call("GET", &item_url(Kind::Retry, "catalog-retries"), None)
        .await;
    assert_eq!(
        retry["spec"]["to"][0]["default"]["attempts"], 3,
        "the valid document was not applied either"
    );

    // A mesh-scoped resource for a mesh that does not exist fails the whole batch.
    let orphan = format!(
        "{}---\n{}",
        Kind::Tenant.example().replace("shop-team", "another-team"),
        Kind::Timeout
            .example()
            .replace("mesh: shop", "mesh: nowhere")
    );
    let (status, _) = api.call("POST", "/api/v1/apply", Some(orphan)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.call("GET", "/api/v1/tenants/another-team", None).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "the valid tenant was rolled back"
    );

    // A stale version anywhere in the batch is a 409 for all of it.
    let (_, mesh) = api.call("GET", "/api/v1/meshes/shop", None).await;
    let stale_version = mesh["metadata"]["resourceVersion"]
        .as_str()
        .unwrap()
        .parse::<u64>()
        .unwrap()
        - 1;
    let stale = format!(
        "{}---\n{}",
        Kind::Tenant.example().replace("shop-team", "third-team"),
        Kind::Mesh.example().replace(
            "  name: shop\n",
            &format!("  name: shop\n  resourceVersion: \"{stale_version}\"\n")
        )
    );
    let (status, body) = api.call("POST", "/api/v1/apply", Some(stale)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = api.call("GET", "/api/v1/tenants/third-team", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Duplicates and zone-owned kinds are named.
    let duplicate = format!(
        "{}---\n{}---\n{}",
        Kind::Trace.example(),
        Kind::Trace.example(),
        Kind::Dataplane.example()
    );
    let (status, body) = api.call("POST", "/api/v1/apply", Some(duplicate)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    assert_eq!(
        fields,
        vec!["documents[1].metadata.name", "documents[2].kind"]
    );

    // The effective config and the policy report reflect what was applied.
    let dataplane = weft_model::resource::parse_resources(
        Kind::Dataplane.example(),
        weft_model::resource::Author::Zone,
    )
    .unwrap();
    api.state
        .store
        .zone_connected("east", "test", "east-store", "r1")
        .await
        .unwrap();
    let changes = dataplane
        .into_iter()
        .map(|resource| weft_global::store::ZoneChange::Upsert(Box::new(resource)))
        .collect::<Vec<_>>();
    api.state
        .store
        .apply_zone_changes("east", &changes, true, 1)
        .await
        .unwrap();
    let (status, report) = api
        .call("GET", "/api/v1/meshes/shop/dataplanes/web-1/policies", None)
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let kinds: Vec<&str> = report["policies"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|p| p["kind"].as_str())
        .collect();
    for kind in [
        "TrafficRoute",
        "Timeout",
        "Retry",
        "CircuitBreaker",
        "HealthCheck",
        "LoadBalancing",
        "AccessLog",
        "Trace",
    ] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert_eq!(report["config"]["outbound"][0]["retry"]["attempts"], 3);
    assert_eq!(
        report["config"]["provenance"]["outbound[catalog].retry.attempts"],
        "Retry/catalog-retries"
    );
    assert_eq!(
        report["config"]["outbound"][1]["timeout"]["request"], "15s",
        "orders gets the mesh-wide timeout"
    );
    let (status, config) = api
        .call("GET", "/api/v1/meshes/shop/dataplanes/web-1/config", None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(config, report["config"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_on_sqlite() {
    for case in 0..2 {
        let directory = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            directory.path().join("kinds.db").display()
        );
        let api = api_with(&url, directory).await;
        if case == 0 {
            lifecycle_of_every_kind(&api).await;
        } else {
            apply_all_or_nothing(&api).await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_kind_on_postgres() {
    let cluster = PgCluster::start();
    for case in 0..2 {
        let api = api_with(&cluster.fresh_database(), tempfile::tempdir().unwrap()).await;
        if case == 0 {
            lifecycle_of_every_kind(&api).await;
        } else {
            apply_all_or_nothing(&api).await;
        }
    }
}
