//! Users, tokens and the audit log through the API: password changes revoke tokens, signing
//! keys rotate without logging anyone out (also across replicas), every write leaves exactly
//! one audit entry and a failed one none.

mod common;

use axum::http::StatusCode;
use common::{PASSWORD, api};
use serde_json::json;

#[tokio::test]
async fn changing_a_password_revokes_every_token_of_the_user() {
    let api = api().await;
    let first = api.login("carol").await;
    let second = api.login("carol").await;
    let (status, body) = api
        .call_as(
            "PUT",
            "/api/v1/users/carol/password",
            Some(json!({"currentPassword": "wrong", "newPassword": "a-new-password"}).to_string()),
            Some(&first),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "currentPassword");
    let (status, _) = api
        .call_as(
            "PUT",
            "/api/v1/users/carol/password",
            Some(json!({"currentPassword": PASSWORD, "newPassword": "a-new-password"}).to_string()),
            Some(&first),
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for token in [&first, &second] {
        let (status, _) = api
            .call_as("GET", "/api/v1/whoami", None, Some(token))
            .await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, _) = api
        .call_as(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"username": "carol", "password": "a-new-password"}).to_string()),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    // Someone else's password is not yours to change (and looks absent).
    let bob = api.login("bob").await;
    let (status, _) = api
        .call_as(
            "PUT",
            "/api/v1/users/carol/password",
            Some(json!({"newPassword": "taken-over-1"}).to_string()),
            Some(&bob),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn signing_keys_rotate_without_logging_anyone_out_on_every_replica() {
    let api = api().await;
    let before = api.login("alice").await;
    let (status, rotated) = api.call("POST", "/api/v1/auth/keys/rotate", None).await;
    assert_eq!(status, StatusCode::OK, "{rotated}");
    assert_eq!(rotated["verifying"].as_array().unwrap().len(), 2);
    let after = api.login("alice").await;
    let kid = |token: &str| jsonwebtoken::decode_header(token).unwrap().kid.unwrap();
    assert_eq!(kid(&after), rotated["kid"].as_str().unwrap());
    assert_ne!(kid(&before), kid(&after));
    for token in [&before, &after] {
        let (status, _) = api
            .call_as("GET", "/api/v1/whoami", None, Some(token))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    // A second replica loaded the keys before the rotation: it learns the new key from the
    // store the first time a token names it.
    let directory = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        directory.path().join("replicated.db").display()
    );
    let first = common::api_with(&url, directory).await;
    let (second_state, _shutdown) =
        common::state_over(&url, std::path::Path::new("/nonexistent")).await;
    let second = weft_global::http::app(second_state);
    let (status, _) = first.call("POST", "/api/v1/auth/keys/rotate", None).await;
    assert_eq!(status, StatusCode::OK);
    let fresh = first.login("alice").await;
    let request = axum::http::Request::builder()
        .uri("/api/v1/whoami")
        .header("authorization", format!("Bearer {fresh}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = tower::ServiceExt::oneshot(second, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_write_leaves_one_audit_entry_and_a_failed_one_none() {
    let api = api().await;
    let count = || async {
        let (_, page) = api.call("GET", "/api/v1/audit?limit=1000", None).await;
        page["items"].as_array().unwrap().len()
    };
    let start = count().await;
    let mesh = common::mesh_in("shop", "shop-team");
    let (status, _) = api.put_yaml("/api/v1/meshes/shop", &mesh).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(count().await, start + 1);
    // Refused (forbidden, invalid, stale): nothing recorded.
    let carol = api.login("carol").await;
    let (status, _) = api
        .call_as("DELETE", "/api/v1/meshes/shop", None, Some(&carol))
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api
        .put_yaml("/api/v1/meshes/shop/timeouts/bad", "kind: Timeout\n")
        .await;
    assert!(status.is_client_error());
    let (status, _) = api
        .call("DELETE", "/api/v1/meshes/shop?resourceVersion=1", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(count().await, start + 1);
    // Users, members and tokens are writes too.
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/tenants/shop-team/members",
            Some(json!({"user": "admin", "role": "viewer"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = api
        .call(
            "POST",
            "/api/v1/auth/tokens",
            Some(json!({"name": "ci"}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (_, page) = api.call("GET", "/api/v1/audit?limit=2", None).await;
    let newest: Vec<(&str, &str)> = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["action"].as_str().unwrap(),
                entry["kind"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(newest, vec![("issue", "ApiToken"), ("update", "Tenant")]);
    assert_eq!(page["items"][0]["user"], "admin");
    assert!(
        page["continue"].is_string(),
        "a full page points at the next"
    );
    let (status, _) = api.call("GET", "/api/v1/audit?since=yesterday", None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
