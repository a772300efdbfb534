//! Mesh CAs through the API: made with the mesh, rotated on request or when the mesh names
//! another CA, through trusting → reissuing → retiring → ready; provided keys are stored
//! encrypted and never returned; bad CAs are refused naming the field.

mod common;

use std::time::Duration;

use axum::http::StatusCode;
use common::api;
use serde_json::{Value, json};

const DAY: Duration = Duration::from_secs(86_400);

fn mesh(ca: Value) -> String {
    json!({
        "apiVersion": "weft.dev/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "shop"},
        "spec": {"tenant": "shop-team", "mtls": {"mode": "strict", "ca": ca}},
    })
    .to_string()
}

async fn phases_until_ready(api: &common::Api) -> Vec<String> {
    let mut phases = Vec::new();
    for _ in 0..5 {
        // No zone is connected: every step is complete at once.
        api.state.cas.step().await.unwrap();
        let (_, ca) = api.call("GET", "/api/v1/meshes/shop/ca", None).await;
        let phase = ca["phase"].as_str().unwrap().to_string();
        phases.push(phase.clone());
        if phase == "ready" {
            break;
        }
    }
    phases
}

#[tokio::test]
async fn a_builtin_ca_rotates_on_request_through_every_phase() {
    let api = api().await;
    let (status, _) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(json!({"builtin": {}}))),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, ca) = api.call("GET", "/api/v1/meshes/shop/ca", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ca["phase"], "ready");
    assert_eq!(ca["roots"].as_array().unwrap().len(), 1);
    assert_eq!(ca["roots"][0]["source"], "builtin");
    assert!(!ca.to_string().contains("PRIVATE KEY"));
    let old = ca["fingerprint"].as_str().unwrap().to_string();

    let (status, rotating) = api
        .call("POST", "/api/v1/meshes/shop/ca/rotate", None)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{rotating}");
    assert_eq!(rotating["phase"], "trusting");
    assert_eq!(rotating["roots"].as_array().unwrap().len(), 2);
    assert_eq!(
        rotating["fingerprint"],
        old.as_str(),
        "the old root still signs"
    );
    let (status, body) = api
        .call("POST", "/api/v1/meshes/shop/ca/rotate", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (_, mesh) = api.call("GET", "/api/v1/meshes/shop", None).await;
    assert_eq!(mesh["status"]["ca"]["phase"], "trusting", "{mesh}");

    assert_eq!(
        phases_until_ready(&api).await,
        vec!["reissuing", "retiring", "ready"]
    );
    let (_, ca) = api.call("GET", "/api/v1/meshes/shop/ca", None).await;
    assert_ne!(ca["fingerprint"], old.as_str());
    assert_eq!(ca["roots"].as_array().unwrap().len(), 1);
    assert_eq!(
        api.state.store.mesh_ca_roots("shop").await.unwrap().len(),
        1,
        "the old root and its key are gone"
    );
    // Deleting the mesh deletes its CA: a new mesh of that name starts afresh.
    let (status, _) = api.call("DELETE", "/api/v1/meshes/shop", None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(
        api.state
            .store
            .mesh_ca_state("shop")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn a_provided_ca_is_checked_kept_secret_and_rotated_to() {
    let api = api().await;
    let (certificate, key) = weft_identity::ca::new_root("shop", 30 * DAY).unwrap();
    let (_, other_key) = weft_identity::ca::new_root("other", 30 * DAY).unwrap();
    // A new mesh naming a certificate needs its key.
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(json!({"provided": {"certificate": certificate}}))),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["details"][0]["field"],
        "spec.mtls.ca.provided.key"
    );
    // Someone else's key.
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(
                json!({"provided": {"certificate": certificate, "key": other_key}}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["error"]["details"][0]["field"],
        "spec.mtls.ca.provided.key"
    );
    assert!(body.to_string().contains("does not belong"), "{body}");

    // Builtin first, then the provided one: a rotation.
    api.call(
        "PUT",
        "/api/v1/meshes/shop",
        Some(mesh(json!({"builtin": {}}))),
    )
    .await;
    let (status, stored) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(
                json!({"provided": {"certificate": certificate, "key": key}}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{stored}");
    assert!(!stored.to_string().contains("PRIVATE KEY"), "{stored}");
    let (_, listed) = api.call("GET", "/api/v1/meshes", None).await;
    assert!(!listed.to_string().contains("PRIVATE KEY"));
    let (_, ca) = api.call("GET", "/api/v1/meshes/shop/ca", None).await;
    assert_eq!(ca["phase"], "trusting");
    // The stored manifest (no key) can be applied again; another CA must wait.
    let (status, _) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(json!({"provided": {"certificate": certificate}}))),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(json!({"builtin": {}}))),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(body.to_string().contains("rotating"), "{body}");

    assert_eq!(
        phases_until_ready(&api).await,
        vec!["reissuing", "retiring", "ready"]
    );
    let (_, ca) = api.call("GET", "/api/v1/meshes/shop/ca", None).await;
    let expected =
        weft_identity::ca::fingerprint(&weft_identity::ca::first_der(&certificate).unwrap());
    assert_eq!(ca["fingerprint"], expected.as_str());
    assert_eq!(ca["roots"][0]["source"], "provided");
    // A provided CA is rotated by naming another one, not by the builtin rotation.
    let (status, _) = api
        .call("POST", "/api/v1/meshes/shop/ca/rotate", None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // A leaf is not a CA; a certificate without its key cannot take over.
    let issuer = weft_identity::ca::CertificateAuthority::load(&certificate, &key).unwrap();
    let (leaf_key, csr) = weft_identity::ca::new_key_and_csr("leaf").unwrap();
    let (other_certificate, _) = weft_identity::ca::new_root("shop", DAY).unwrap();
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(
                json!({"provided": {"certificate": other_certificate}}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let leaf = issuer.sign_leaf(&csr, "spiffe://shop/web", DAY).unwrap();
    let (status, body) = api
        .call(
            "PUT",
            "/api/v1/meshes/shop",
            Some(mesh(
                json!({"provided": {"certificate": leaf, "key": leaf_key}}),
            )),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("not a CA"), "{body}");
}
