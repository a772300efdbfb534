//! `POST /api/v1/apply?dryRun=true`: checked and authorized as for real, nothing written, and
//! the proxies whose configuration would change are named with the settings that would move.

mod common;

use axum::http::StatusCode;
use common::{api, mesh_in};
use serde_json::json;
use weft_global::store::ZoneChange;
use weft_model::Kind;
use weft_model::resource::{Author, Resource};

const TIMEOUT: &str = "apiVersion: weft.dev/v1alpha1\nkind: Timeout\nmetadata: {name: slow-down, mesh: shop}\nspec:\n  targetRef: {kind: Mesh}\n  to: [{targetRef: {kind: Service, name: catalog}, default: {request: 7s}}]\n";

#[tokio::test]
async fn a_dry_run_says_what_would_change_and_writes_nothing() {
    let api = api().await;
    let (status, _) = api
        .put_yaml("/api/v1/meshes/shop", &mesh_in("shop", "shop-team"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut dataplane = weft_model::manifest::parse_documents(Kind::Dataplane.example())
        .unwrap()
        .remove(0);
    dataplane["metadata"]["mesh"] = json!("shop");
    let dataplane = Resource::from_value(dataplane, Author::Zone).unwrap();
    let store = &api.state.store;
    store.register_zone("east").await.unwrap();
    store
        .apply_zone_changes("east", &[ZoneChange::Upsert(Box::new(dataplane))], false, 1)
        .await
        .unwrap();
    let revision = store.current_revision().await.unwrap();

    let (status, answer) = api
        .call("POST", "/api/v1/apply?dryRun=true", Some(TIMEOUT.into()))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["dryRun"], true);
    assert_eq!(answer["items"][0]["result"], "created");
    // web-1 calls catalog: the draft applies to it and moves its catalog timeout.
    let effect = &answer["effects"][0];
    assert_eq!(effect["dataplane"], "web-1", "{answer}");
    assert_eq!(effect["policies"], json!(["Timeout/slow-down"]));
    let changed: Vec<&str> = effect["changed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|path| path.as_str().unwrap())
        .collect();
    assert!(
        changed.iter().any(|path| path.ends_with("timeout.request")),
        "{changed:?}"
    );
    // Nothing was written: no resource, no revision, no audit entry.
    let (status, _) = api
        .call("GET", "/api/v1/meshes/shop/timeouts/slow-down", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(store.current_revision().await.unwrap(), revision);
    let (_, audit) = api.call("GET", "/api/v1/audit?kind=Timeout", None).await;
    assert_eq!(audit["items"], json!([]));

    // Applied for real, the same draft again is unchanged and changes no proxy.
    let (status, _) = api
        .call("POST", "/api/v1/apply", Some(TIMEOUT.into()))
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, again) = api
        .call("POST", "/api/v1/apply?dryRun=true", Some(TIMEOUT.into()))
        .await;
    assert_eq!(again["items"][0]["result"], "unchanged");
    assert_eq!(again["effects"][0]["changed"], json!([]), "{again}");

    // The same checks as a real apply: a viewer may not, bad values are named.
    let carol = api.login("carol").await;
    let (status, _) = api
        .call_as(
            "POST",
            "/api/v1/apply?dryRun=true",
            Some(TIMEOUT.into()),
            Some(&carol),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, body) = api
        .call("POST", "/api/v1/apply?dryRun=maybe", Some(TIMEOUT.into()))
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dryRun")
    );
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/apply?dryRun=true",
            Some(TIMEOUT.replace("7s", "soon")),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        body["error"]["details"][0]["field"],
        "spec.to[0].default.request"
    );
}
