//! Control-plane tokens through the API: issued once with their secret, listed without it,
//! validated, revoked; and checked by global's own verifier.

mod common;

use axum::http::StatusCode;
use common::api;
use serde_json::json;

const MESH: &str = "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\nspec: {tenant: shop-team}\n";

#[tokio::test]
async fn zone_tokens_are_issued_listed_and_revoked() {
    let api = api().await;
    let (status, issued) = api
        .call(
            "POST",
            "/api/v1/zones/east/token",
            Some(json!({"validFor": "24h"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let token = issued["token"].as_str().unwrap();
    let id = issued["id"].as_str().unwrap();
    assert_eq!(issued["kind"], "zone");
    assert_eq!(issued["subject"], "east");
    // Global's own check: valid for east, not for west; revocation ends it.
    let verifier = api.state.authority.verifier(vec![]);
    assert!(verifier.zone(token, "east").is_ok());
    assert!(verifier.zone(token, "west").is_err());
    // An empty body is fine too.
    let (status, _) = api.call("POST", "/api/v1/zones/east/token", None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, list) = api.call("GET", "/api/v1/zones/east/tokens", None).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    assert!(
        list["items"][0].get("token").is_none(),
        "secrets are never listed"
    );
    let (status, _) = api
        .call("DELETE", &format!("/api/v1/zones/east/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let revoked = api.state.store.revoked_token_ids().await.unwrap();
    assert_eq!(revoked, vec![id.to_string()]);
    assert!(
        api.state
            .authority
            .verifier(revoked)
            .zone(token, "east")
            .is_err()
    );
    // Revoking a token of another zone, or an unknown one, is a 404.
    let (status, _) = api
        .call("DELETE", &format!("/api/v1/zones/west/tokens/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Bad input names the field.
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/zones/east/token",
            Some(json!({"validFor": "1s"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"][0]["field"], "validFor");
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/zones/east/token",
            Some(json!({"colour": "red"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, body) = api.call("POST", "/api/v1/zones/East_1/token", None).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(body["error"]["details"][0]["field"], "zone");
    // Without a token, nothing.
    let (status, _) = api
        .call_as("POST", "/api/v1/zones/east/token", None, None)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn dataplane_tokens_bind_a_mesh_service_and_tags() {
    let api = api().await;
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/meshes/shop/dataplane-tokens",
            Some(json!({"service": "web"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no such mesh yet");
    api.put_yaml("/api/v1/meshes/shop", MESH).await;
    let (status, issued) = api
        .call(
            "POST",
            "/api/v1/meshes/shop/dataplane-tokens",
            Some(json!({"service": "catalog", "tags": {"version": "v2"}}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let claims = api
        .state
        .authority
        .verifier(vec![])
        .dataplane(issued["token"].as_str().unwrap())
        .unwrap();
    assert_eq!(
        (claims.mesh.as_str(), claims.sub.as_str()),
        ("shop", "catalog")
    );
    assert_eq!(claims.tags["version"], "v2");
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/meshes/shop/dataplane-tokens",
            Some(json!({"service": "Bad Name", "tags": {"service": "x"}}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let mut fields: Vec<&str> = body["error"]["details"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|d| d["field"].as_str())
        .collect();
    fields.sort();
    assert_eq!(fields, vec!["service", "tags.service"]);
    let (_, list) = api
        .call("GET", "/api/v1/meshes/shop/dataplane-tokens", None)
        .await;
    assert_eq!(list["items"][0]["subject"], "catalog");
    let id = list["items"][0]["id"].as_str().unwrap();
    let (status, _) = api
        .call(
            "DELETE",
            &format!("/api/v1/meshes/shop/dataplane-tokens/{id}"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, list) = api
        .call("GET", "/api/v1/meshes/shop/dataplane-tokens", None)
        .await;
    assert!(list["items"][0]["revokedAt"].is_string());
}
