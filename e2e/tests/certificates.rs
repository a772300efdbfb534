//! Proxy certificates change under steady traffic without failing a request: renewal (while
//! global is down, so the zone alone signs).

use std::collections::BTreeMap;
use std::time::Duration;

use weft_e2e::load::Load;
use weft_e2e::shop::{MESH_MANIFEST, Shop, ShopOptions};
use weft_e2e::wait_until;

/// Every proxy's certificates: (instance, service) → notBefore.
fn issued(shop: &Shop) -> Option<BTreeMap<(String, String), u64>> {
    let mut all = BTreeMap::new();
    for instance in &shop.instances {
        let (_, text) = weft_e2e::api::text(&format!("{}/identity", instance.admin_url()))?;
        let body: serde_json::Value = serde_json::from_str(&text).ok()?;
        let identities = body["identities"].as_array()?;
        if identities.is_empty() {
            return None;
        }
        for identity in identities {
            all.insert(
                (
                    instance.spec.name.clone(),
                    identity["service"].as_str()?.to_string(),
                ),
                identity["notBefore"].as_u64()?,
            );
        }
    }
    Some(all)
}

#[test]
fn certificates_renew_under_load_while_global_is_down() {
    let work = tempfile::tempdir().unwrap();
    // 12 s certificates: renewed about every 8 s.
    let mut shop = Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        admin_password: "e2e-admin-password".into(),
        mesh_manifest: Some(MESH_MANIFEST.replace(
            "mtls: {mode: permissive}",
            "mtls: {mode: permissive, certificateLifetime: 12s}",
        )),
        no_faults: true,
        ..ShopOptions::default()
    });
    let first = wait_until("every proxy's certificate", Duration::from_secs(30), || {
        issued(&shop)
    });
    // Every request crosses three mTLS hops: web → catalog → inventory, web → orders.
    let load = Load::start(&shop.web().url(), 200.0);
    shop.global.stop();
    wait_until(
        "every proxy to renew its certificate",
        Duration::from_secs(40),
        || {
            let now = issued(&shop)?;
            first
                .iter()
                .all(|(key, before)| now.get(key).is_some_and(|after| after > before))
                .then_some(())
        },
    );
    let outcome = load.stop();
    assert!(outcome.sent > 500, "the load ran: {outcome:?}");
    assert_eq!(outcome.failed, 0, "{outcome:?}");
}

/// Every proxy's certificates: (instance, service) → (issuing root, trusted roots).
fn roots(shop: &Shop) -> BTreeMap<(String, String), (String, Vec<String>)> {
    let mut all = BTreeMap::new();
    for instance in &shop.instances {
        let (_, text) = weft_e2e::api::text(&format!("{}/identity", instance.admin_url()))
            .expect("the proxy's admin port answers");
        let body: serde_json::Value = serde_json::from_str(&text).unwrap();
        for identity in body["identities"].as_array().unwrap() {
            let bundle = identity["trustBundleFingerprints"]
                .as_array()
                .unwrap()
                .iter()
                .map(|fingerprint| fingerprint.as_str().unwrap().to_string())
                .collect();
            all.insert(
                (
                    instance.spec.name.clone(),
                    identity["service"].as_str().unwrap().to_string(),
                ),
                (identity["issuedBy"].as_str().unwrap().to_string(), bundle),
            );
        }
    }
    all
}

#[test]
fn a_ca_rotation_under_load_fails_no_request_and_ends_on_the_new_root() {
    let work = tempfile::tempdir().unwrap();
    let shop = Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        admin_password: "e2e-admin-password".into(),
        no_faults: true,
        ..ShopOptions::default()
    });
    let api = shop.global.api();
    let (_, before) = api.get("/api/v1/meshes/shop/ca").unwrap();
    let old = before["fingerprint"].as_str().unwrap().to_string();
    wait_until("every proxy's certificate", Duration::from_secs(30), || {
        issued(&shop)
    });

    // The user's own CA, given with its key: the mesh rotates to it.
    let (certificate, key) =
        weft_identity::ca::new_root("shop", Duration::from_secs(30 * 86_400)).unwrap();
    let new = weft_identity::ca::fingerprint(&weft_identity::ca::first_der(&certificate).unwrap());
    let manifest = serde_json::json!({
        "apiVersion": "weft.dev/v1alpha1",
        "kind": "Mesh",
        "metadata": {"name": "shop", "labels": {"team": "shop"}},
        "spec": {"mtls": {"mode": "permissive", "ca": {"provided": {"certificate": certificate, "key": key}}}},
    });
    let load = Load::start(&shop.web().url(), 200.0);
    load.wait_for_more(400);
    let (status, stored) = api
        .put("/api/v1/meshes/shop", &manifest.to_string())
        .unwrap();
    assert_eq!(status, 200, "{stored}");
    assert!(
        !stored.to_string().contains("PRIVATE KEY"),
        "the key is never returned: {stored}"
    );
    let (_, rotating) = api.get("/api/v1/meshes/shop/ca").unwrap();
    assert_ne!(rotating["phase"], "ready", "{rotating}");
    let done = wait_until("the rotation to finish", Duration::from_secs(90), || {
        let (_, ca) = api.get("/api/v1/meshes/shop/ca").ok()?;
        (ca["phase"] == "ready" && ca["fingerprint"] == new.as_str()).then_some(ca)
    });
    // Every proxy ends on the new root, trusting it alone.
    wait_until(
        "every proxy on the new root",
        Duration::from_secs(30),
        || {
            roots(&shop)
                .values()
                .all(|(issued_by, bundle)| *issued_by == new && *bundle == vec![new.clone()])
                .then_some(())
        },
    );
    // And traffic goes on flowing on the new certificates alone.
    load.wait_for_more(400);
    let outcome = load.stop();
    assert!(outcome.sent >= 800, "the load ran: {outcome:?}");
    assert_eq!(outcome.failed, 0, "{outcome:?}");
    assert_eq!(done["roots"].as_array().unwrap().len(), 1, "{done}");
    assert_ne!(old, new);
    let (_, mesh) = api.get("/api/v1/meshes/shop").unwrap();
    assert_eq!(mesh["status"]["ca"]["phase"], "ready", "{mesh}");
    assert!(!mesh.to_string().contains("PRIVATE KEY"));
}
