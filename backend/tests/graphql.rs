//! GraphQL: one query from tenants down to a proxy's policies, narrowed to what the caller may
//! see, and bounded.

mod common;

use axum::http::StatusCode;
use serde_json::{Value, json};
use weft_global::store::ZoneChange;
use weft_model::Kind;
use weft_model::resource::{Author, Resource};

async fn query(api: &common::Api, token: &str, text: &str) -> Value {
    let (status, body) = api
        .call_as(
            "POST",
            "/api/graphql",
            Some(json!({"query": text}).to_string()),
            Some(token),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

const DEEP: &str = "{ tenants { name displayName members { user role }
    meshes { name tenant role
      services
      dataplanes { name zone policies config }
      resources(kind: \"Timeout\")
      rollouts
      graph(windowSeconds: 30) } } zones }";

#[tokio::test]
async fn one_query_reaches_from_tenants_to_policies_for_those_allowed() {
    let api = common::api().await;
    let (status, _) = api
        .put_yaml("/api/v1/meshes/shop", &common::mesh_in("shop", "shop-team"))
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let mut timeout = weft_model::manifest::parse_documents(Kind::Timeout.example())
        .unwrap()
        .remove(0);
    timeout["metadata"]["mesh"] = json!("shop");
    let name = timeout["metadata"]["name"].as_str().unwrap().to_string();
    let (status, body) = api
        .call(
            "PUT",
            &format!("/api/v1/meshes/shop/timeouts/{name}"),
            Some(timeout.to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let mut dataplane = weft_model::manifest::parse_documents(Kind::Dataplane.example())
        .unwrap()
        .remove(0);
    dataplane["metadata"]["mesh"] = json!("shop");
    let mut dataplane = Resource::from_value(dataplane, Author::Zone).unwrap();
    // As the sync server does on arrival.
    weft_global::store::stamp_zone(&mut dataplane, "east");
    let store = &api.state.store;
    store.register_zone("east").await.unwrap();
    store
        .zone_connected("east", "0.1", "store", "r1")
        .await
        .unwrap();
    store
        .apply_zone_changes("east", &[ZoneChange::Upsert(Box::new(dataplane))], false, 1)
        .await
        .unwrap();

    // A viewer of shop-team sees the whole tree.
    let carol = api.login("carol").await;
    let answer = query(&api, &carol, DEEP).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    let tenant = &answer["data"]["tenants"][0];
    assert_eq!(tenant["name"], "shop-team");
    assert_eq!(tenant["members"].as_array().unwrap().len(), 3);
    let mesh = &tenant["meshes"][0];
    assert_eq!(
        (mesh["name"].as_str(), mesh["role"].as_str()),
        (Some("shop"), Some("viewer"))
    );
    assert_eq!(mesh["resources"][0]["metadata"]["name"], name.as_str());
    assert_eq!(mesh["dataplanes"][0]["zone"], "east");
    assert!(
        mesh["dataplanes"][0]["policies"]
            .as_array()
            .unwrap()
            .iter()
            .any(|policy| policy["kind"] == "Timeout"),
        "{answer}"
    );
    assert_eq!(mesh["services"][0]["name"], "web");
    assert_eq!(mesh["graph"]["windowSeconds"], 30);
    assert_eq!(mesh["rollouts"], json!([]));
    // Zones are visible to every user, with their status.
    let zone = &answer["data"]["zones"][0];
    assert_eq!(zone["metadata"]["name"], "east", "{answer}");
    assert!(zone["status"].is_object(), "{answer}");

    // Someone in no tenant sees nothing: no tenants, no meshes, shop is null.
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/users",
            Some(json!({"username": "outsider", "password": common::PASSWORD}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let outsider = api.login("outsider").await;
    let answer = query(
        &api,
        &outsider,
        "{ tenants { name } meshes { name } mesh(name: \"shop\") { name services } }",
    )
    .await;
    assert_eq!(
        answer["data"],
        json!({"tenants": [], "meshes": [], "mesh": null}),
        "{answer}"
    );

    // Without a token: 401 before any query runs.
    let (status, _) = api
        .call_as(
            "POST",
            "/api/graphql",
            Some(json!({"query": "{ whoami { user } }"}).to_string()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn queries_are_bounded() {
    let api = common::api().await;
    let token = api.token.clone();
    let refused = |answer: &Value, what: &str| {
        let message = answer["errors"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(answer["data"].is_null(), "{what}: {answer}");
        assert!(!message.is_empty(), "{what}: {answer}");
    };
    // Nested beyond the depth limit (introspection nests as deep as one asks).
    let deep = format!(
        "{{ __schema {{ types {{ fields {{ type {}name{} }} }} }} }}",
        "{ ofType ".repeat(10),
        " }".repeat(10)
    );
    refused(&query(&api, &token, &deep).await, "depth");
    // Too many fields in one query.
    let wide: String = (0..3000)
        .map(|n| format!("a{n}: whoami {{ user }} "))
        .collect();
    refused(
        &query(&api, &token, &format!("{{ {wide} }}")).await,
        "complexity",
    );
}
