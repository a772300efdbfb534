//! The zone's local store (resume points, tombstones, snapshots) and its in-memory state.

use weft_model::Kind;
use weft_model::resource::{Author, Resource, parse_resources};
use weft_zone::state::{GlobalChange, ZoneState};
use weft_zone::store::{GlobalResource, ZoneStore};

fn resource(yaml: &str) -> Resource {
    parse_resources(yaml, Author::Zone).unwrap().remove(0)
}

fn dataplane(name: &str, port: u16) -> Resource {
    resource(&format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Dataplane\nmetadata: {{name: {name}, mesh: shop}}\n\
         spec: {{networking: {{address: 127.0.0.1, inbound: [{{port: {port}, servicePort: 9000, tags: {{service: web}}}}], outbound: [{{port: 7000, service: catalog}}]}}}}\n"
    ))
}

fn global(
    kind: &str,
    mesh: &str,
    name: &str,
    revision: u64,
    manifest: Option<&str>,
) -> GlobalResource {
    GlobalResource {
        kind: kind.into(),
        mesh: mesh.into(),
        name: name.into(),
        zone: String::new(),
        revision,
        manifest: manifest.map(str::to_string),
    }
}

#[tokio::test]
async fn registrations_in_one_batch_take_one_revision_each_and_skip_the_unchanged() {
    let directory = tempfile::tempdir().unwrap();
    let store = ZoneStore::open(&directory.path().join("zone.db"))
        .await
        .unwrap();
    let first = store.put_local(&dataplane("web-1", 8080)).await.unwrap();
    let batch = [
        dataplane("web-1", 8080),
        dataplane("web-2", 8081),
        dataplane("web-3", 8082),
        dataplane("web-2", 8081),
    ];
    let revisions = store.put_locals(&batch).await.unwrap();
    // web-1 is unchanged (the current revision), web-2 and web-3 are new, and web-2's
    // second copy changes nothing.
    assert_eq!(
        revisions,
        vec![first, first + 1, first + 2, first + 2],
        "one revision per change, the current one for no change"
    );
    assert_eq!(store.local_revision().await.unwrap(), first + 2);
    let names: Vec<String> = store
        .local_changes(first)
        .await
        .unwrap()
        .into_iter()
        .map(|change| change.name)
        .collect();
    assert_eq!(names, ["web-2", "web-3"]);
    assert_eq!(
        store.put_locals(&batch[..1]).await.unwrap(),
        vec![first + 2],
        "nothing new: nothing written"
    );
}

#[tokio::test]
async fn old_tombstones_are_compacted_and_the_point_moves_past_them() {
    let directory = tempfile::tempdir().unwrap();
    let store = ZoneStore::open(&directory.path().join("zone.db"))
        .await
        .unwrap();
    store.put_local(&dataplane("web-1", 8080)).await.unwrap();
    store.put_local(&dataplane("web-2", 8081)).await.unwrap();
    let deleted = store.delete_local("shop", "web-2").await.unwrap().unwrap();
    let now = jiff::Timestamp::now().as_second();
    // Nothing is old enough yet.
    assert_eq!(store.compact_local(now - 60).await.unwrap(), 0);
    assert_eq!(store.local_compacted().await.unwrap(), 0);
    // Everything deleted before "a minute from now" is: the tombstone goes, the point moves.
    assert_eq!(store.compact_local(now + 60).await.unwrap(), 1);
    assert_eq!(store.local_compacted().await.unwrap(), deleted);
    // web-1 registered at revision 1; after it there was only web-2, now gone entirely.
    assert!(store.local_changes(1).await.unwrap().is_empty());
    // The live dataplane stays; the point never moves back.
    assert_eq!(store.local_dataplanes().await.unwrap().len(), 1);
    assert_eq!(store.compact_local(now + 60).await.unwrap(), 0);
    assert_eq!(store.local_compacted().await.unwrap(), deleted);
}

#[tokio::test]
async fn local_dataplanes_have_revisions_and_tombstones() {
    let directory = tempfile::tempdir().unwrap();
    let store = ZoneStore::open(&directory.path().join("zone.db"))
        .await
        .unwrap();
    let first = store.put_local(&dataplane("web-1", 8080)).await.unwrap();
    let second = store.put_local(&dataplane("web-2", 8081)).await.unwrap();
    assert!(second > first);
    assert_eq!(
        store.put_local(&dataplane("web-1", 8080)).await.unwrap(),
        second,
        "unchanged: no new revision"
    );
    let third = store.put_local(&dataplane("web-1", 8090)).await.unwrap();
    assert!(third > second);
    let deleted = store.delete_local("shop", "web-2").await.unwrap().unwrap();
    assert!(deleted > third);
    assert_eq!(store.delete_local("shop", "web-2").await.unwrap(), None);

    let after_first: Vec<(String, bool)> = store
        .local_changes(first)
        .await
        .unwrap()
        .into_iter()
        .map(|change| (change.name, change.manifest.is_none()))
        .collect();
    assert_eq!(
        after_first,
        vec![("web-1".into(), false), ("web-2".into(), true)]
    );
    let snapshot: Vec<String> = store
        .local_changes(0)
        .await
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(
        snapshot,
        vec!["web-1"],
        "a snapshot holds live dataplanes only"
    );

    let id = store.store_id().to_string();
    store.close().await;
    let reopened = ZoneStore::open(&directory.path().join("zone.db"))
        .await
        .unwrap();
    assert_eq!(reopened.store_id(), id);
    assert_eq!(reopened.local_revision().await.unwrap(), deleted);
    assert_eq!(reopened.local_dataplanes().await.unwrap().len(), 1);
}

#[tokio::test]
async fn global_batches_resume_and_snapshots_replace() {
    let directory = tempfile::tempdir().unwrap();
    let store = ZoneStore::open(&directory.path().join("zone.db"))
        .await
        .unwrap();
    assert_eq!(store.global_position().await.unwrap(), (String::new(), 0));
    let mesh =
        r#"{"apiVersion":"weft.dev/v1alpha1","kind":"Mesh","metadata":{"name":"shop"},"spec":{}}"#;
    let other =
        r#"{"apiVersion":"weft.dev/v1alpha1","kind":"Mesh","metadata":{"name":"other"},"spec":{}}"#;
    store
        .apply_global(
            &[
                global("Mesh", "", "shop", 1, Some(mesh)),
                global("Mesh", "", "other", 2, Some(other)),
            ],
            true,
            "g1",
            2,
        )
        .await
        .unwrap();
    store
        .apply_global(&[global("Mesh", "", "other", 3, None)], false, "g1", 3)
        .await
        .unwrap();
    assert_eq!(store.global_position().await.unwrap(), ("g1".into(), 3));
    let names: Vec<String> = store
        .global_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["shop"]);
    // a snapshot from a new global store replaces everything
    store
        .apply_global(
            &[global("Mesh", "", "other", 1, Some(other))],
            true,
            "g2",
            1,
        )
        .await
        .unwrap();
    let names: Vec<String> = store
        .global_resources()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["other"]);
    assert_eq!(store.global_position().await.unwrap(), ("g2".into(), 1));
}

#[test]
fn state_keeps_local_dataplanes_through_snapshots_and_isolates_meshes() {
    let state = ZoneState::default();
    let shop = resource("apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\n");
    let other = resource("apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: other}\n");
    state.replace_global(vec![shop.clone(), other]);
    state.put_local(dataplane("web-1", 8080));
    let before = state.current();
    assert!(
        before.meshes["shop"]
            .proxy_config("shop", "web-1")
            .is_some()
    );

    // a change in one mesh leaves the other mesh's state untouched (same Arc)
    let route = resource(
        "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {name: r, mesh: shop}\n\
         spec: {targetRef: {kind: Mesh}, to: [{targetRef: {kind: Service, name: catalog}, rules: [{backends: [{service: catalog, tags: {version: v2}}]}]}]}\n",
    );
    state.apply_global(vec![GlobalChange::Upsert(Box::new(route))]);
    let after = state.current();
    assert!(std::sync::Arc::ptr_eq(
        &before.meshes["other"],
        &after.meshes["other"]
    ));
    assert!(!std::sync::Arc::ptr_eq(
        &before.meshes["shop"],
        &after.meshes["shop"]
    ));
    let config = after.meshes["shop"].proxy_config("shop", "web-1").unwrap();
    assert_eq!(config.outbound[0].rules[0].origin, "TrafficRoute/r");

    // a new snapshot from global keeps the zone's own dataplanes; a remote copy never shadows them
    state.replace_global(vec![shop]);
    state.apply_global(vec![GlobalChange::Upsert(Box::new(dataplane(
        "web-1", 9999,
    )))]);
    let snapshot = state.current();
    assert!(snapshot.meshes["shop"].dataplanes["web-1"].local);
    assert!(!snapshot.meshes.contains_key("other"));
    state.apply_global(vec![GlobalChange::Delete {
        kind: Kind::Mesh,
        mesh: String::new(),
        name: "shop".into(),
    }]);
    assert!(
        !state.current().meshes["shop"].exists(),
        "the mesh is gone; its local dataplanes wait for their sessions to end"
    );
}
