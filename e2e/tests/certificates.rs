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
