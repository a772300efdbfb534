//! One store suite, run against SQLite and against a throwaway Postgres cluster.
//! Each case gets a fresh database.

use std::collections::BTreeMap;

use weft_global::error::Error;
use weft_global::store::{
    Actor, ApiTokenRow, AuditQuery, MeshCaRoot, MeshCaState, Phase, SigningKeyRow, Store,
    TokenKind, TokenRow, TrafficSecond, UserRow, ZoneChange,
};
use weft_model::Kind;
use weft_model::resource::{Author, Resource, parse_resources};
use weft_model::tenant::Role;
use weft_testkit::postgres::PgCluster;

fn actor() -> Actor {
    Actor {
        user: "tester".into(),
        token: "t-1".into(),
        address: "127.0.0.1".into(),
    }
}

fn resource(yaml: &str) -> Resource {
    parse_resources(yaml, Author::Zone).unwrap().remove(0)
}

fn mesh(name: &str) -> Resource {
    resource(&format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {{name: {name}}}\n"
    ))
}

fn route(mesh: &str, name: &str, weight: u32) -> Resource {
    resource(&format!(
        "apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {{name: {name}, mesh: {mesh}}}\n\
         spec: {{targetRef: {{kind: Mesh}}, to: [{{targetRef: {{kind: Service, name: catalog}}, rules: [{{backends: [{{service: catalog, weight: {weight}}}]}}]}}]}}\n"
    ))
}

fn dataplane(mesh: &str, name: &str, port: u16) -> Resource {
    resource(&format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Dataplane\nmetadata: {{name: {name}, mesh: {mesh}}}\n\
         spec: {{networking: {{address: 127.0.0.1, inbound: [{{port: {port}, servicePort: 9000, tags: {{service: web}}}}]}}}}\n"
    ))
}

async fn put_get_list(store: Store) {
    let (row, created) = store.put(&mesh("shop"), None, &actor()).await.unwrap();
    assert!(created);
    assert_eq!(row.revision, 1);
    let (row, created) = store
        .put(&route("shop", "split", 80), None, &actor())
        .await
        .unwrap();
    assert!(created);
    assert_eq!(row.revision, 2);
    let fetched = store
        .get(Kind::TrafficRoute, "shop", "split")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(fetched.spec, route("shop", "split", 80).spec.to_value());
    assert_eq!(
        fetched.to_manifest().metadata.resource_version.as_deref(),
        Some("2")
    );
    assert!(fetched.to_manifest().metadata.creation_time.is_some());

    // identical content is not a change
    let (same, created) = store
        .put(&route("shop", "split", 80), None, &actor())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(same.revision, 2);
    assert_eq!(store.current_revision().await.unwrap(), 2);

    let (changed, created) = store
        .put(&route("shop", "split", 70), None, &actor())
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(changed.revision, 3);
    assert_eq!(changed.created_at, fetched.created_at);

    store
        .put(&route("shop", "another", 1), None, &actor())
        .await
        .unwrap();
    store.put(&mesh("other"), None, &actor()).await.unwrap();
    store
        .put(&route("other", "elsewhere", 1), None, &actor())
        .await
        .unwrap();
    let names: Vec<String> = store
        .list(Kind::TrafficRoute, Some("shop"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["another", "split"]);
    assert_eq!(store.list(Kind::TrafficRoute, None).await.unwrap().len(), 3);
    assert_eq!(store.list(Kind::Mesh, None).await.unwrap().len(), 2);
    assert!(
        store
            .get(Kind::TrafficRoute, "other", "split")
            .await
            .unwrap()
            .is_none()
    );
}

async fn optimistic_concurrency(store: Store) {
    store.put(&mesh("shop"), None, &actor()).await.unwrap();
    let (row, _) = store
        .put(&route("shop", "r", 1), None, &actor())
        .await
        .unwrap();
    let stale = row.revision;
    store
        .put(&route("shop", "r", 2), Some(stale), &actor())
        .await
        .unwrap();
    let conflict = store
        .put(&route("shop", "r", 3), Some(stale), &actor())
        .await
        .unwrap_err();
    assert!(matches!(conflict, Error::Conflict(_)), "{conflict:?}");
    let missing = store
        .put(&route("shop", "nope", 3), Some(1), &actor())
        .await
        .unwrap_err();
    assert!(matches!(missing, Error::Conflict(_)), "{missing:?}");
    assert!(
        store
            .get(Kind::TrafficRoute, "shop", "nope")
            .await
            .unwrap()
            .is_none()
    );
    let current = store
        .get(Kind::TrafficRoute, "shop", "r")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        current.spec,
        route("shop", "r", 2).spec.to_value(),
        "the conflicting write changed nothing"
    );
    let stale_delete = store
        .delete(Kind::TrafficRoute, "shop", "r", Some(stale), &actor())
        .await
        .unwrap_err();
    assert!(matches!(stale_delete, Error::Conflict(_)));
    store
        .delete(
            Kind::TrafficRoute,
            "shop",
            "r",
            Some(current.revision),
            &actor(),
        )
        .await
        .unwrap();
}

async fn tombstones_and_change_feed(store: Store) {
    store.put(&mesh("shop"), None, &actor()).await.unwrap();
    for position in 0..5 {
        store
            .put(&route("shop", &format!("r{position}"), 1), None, &actor())
            .await
            .unwrap();
    }
    store
        .delete(Kind::TrafficRoute, "shop", "r1", None, &actor())
        .await
        .unwrap();
    assert!(
        store
            .get(Kind::TrafficRoute, "shop", "r1")
            .await
            .unwrap()
            .is_none()
    );
    assert!(matches!(
        store
            .delete(Kind::TrafficRoute, "shop", "r1", None, &actor())
            .await,
        Err(Error::NotFound(_))
    ));

    let first = store.changes_since(0, 3).await.unwrap();
    let revisions: Vec<u64> = first.iter().map(|row| row.revision).collect();
    assert_eq!(
        revisions,
        vec![1, 2, 4],
        "r1 moved to a later revision when deleted"
    );
    let rest = store.changes_since(4, 100).await.unwrap();
    let summary: Vec<(String, bool)> = rest
        .iter()
        .map(|row| (row.name.clone(), row.deleted))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("r3".into(), false),
            ("r4".into(), false),
            ("r1".into(), true)
        ]
    );
    assert_eq!(store.live().await.unwrap().len(), 5);

    let (again, created) = store
        .put(&route("shop", "r1", 1), None, &actor())
        .await
        .unwrap();
    assert!(created, "writing over a tombstone creates");
    assert_eq!(again.revision, 8);
}

async fn mesh_deletion(store: Store) {
    store.put(&mesh("shop"), None, &actor()).await.unwrap();
    store
        .put(&route("shop", "a", 1), None, &actor())
        .await
        .unwrap();
    store
        .put(&route("shop", "b", 1), None, &actor())
        .await
        .unwrap();
    store
        .zone_connected("east", "1", "east-store", "r1")
        .await
        .unwrap();
    store
        .apply_zone_changes(
            "east",
            &[ZoneChange::Upsert(Box::new(dataplane(
                "shop", "web-1", 8080,
            )))],
            false,
            1,
        )
        .await
        .unwrap();
    let refused = store
        .delete(Kind::Mesh, "", "shop", None, &actor())
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Conflict(_)), "{refused:?}");
    store
        .apply_zone_changes(
            "east",
            &[ZoneChange::Delete {
                mesh: "shop".into(),
                name: "web-1".into(),
            }],
            false,
            2,
        )
        .await
        .unwrap();
    store
        .delete(Kind::Mesh, "", "shop", None, &actor())
        .await
        .unwrap();
    assert!(
        store
            .list(Kind::TrafficRoute, Some("shop"))
            .await
            .unwrap()
            .is_empty()
    );
    let tail = store.changes_since(0, 100).await.unwrap();
    assert!(
        tail.iter().all(|row| row.deleted),
        "every resource of the mesh is a tombstone"
    );
}

async fn zone_changes(store: Store) {
    store.put(&mesh("shop"), None, &actor()).await.unwrap();
    assert_eq!(
        store
            .zone_connected("east", "0.1.0", "east-store-1", "r1")
            .await
            .unwrap(),
        0
    );
    let snapshot = vec![
        ZoneChange::Upsert(Box::new(dataplane("shop", "web-1", 8080))),
        ZoneChange::Upsert(Box::new(dataplane("shop", "web-2", 8081))),
    ];
    store
        .apply_zone_changes("east", &snapshot, true, 7)
        .await
        .unwrap();
    // What the zone serves, per mesh: telemetry from it must name these.
    let served = store.zone_services("east").await.unwrap();
    assert_eq!(served.len(), 1);
    assert!(served["shop"].contains("web"));
    assert!(store.zone_services("west").await.unwrap().is_empty());
    store.zone_disconnected("east", "r1").await.unwrap();
    assert_eq!(
        store
            .zone_connected("east", "0.1.0", "east-store-1", "r1")
            .await
            .unwrap(),
        7,
        "resume where it stopped"
    );

    // a snapshot that no longer names web-2 removes it
    store
        .apply_zone_changes(
            "east",
            &[ZoneChange::Upsert(Box::new(dataplane(
                "shop", "web-1", 8080,
            )))],
            true,
            9,
        )
        .await
        .unwrap();
    let names: Vec<String> = store
        .list(Kind::Dataplane, Some("shop"))
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, vec!["web-1"]);
    let row = store
        .get(Kind::Dataplane, "shop", "web-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.zone, "east");

    // another zone cannot take over a name
    store
        .zone_connected("west", "0.1.0", "west-store", "r1")
        .await
        .unwrap();
    store
        .apply_zone_changes(
            "west",
            &[ZoneChange::Upsert(Box::new(dataplane(
                "shop", "web-1", 9999,
            )))],
            false,
            1,
        )
        .await
        .unwrap();
    assert_eq!(
        store
            .get(Kind::Dataplane, "shop", "web-1")
            .await
            .unwrap()
            .unwrap()
            .zone,
        "east"
    );
    // nor delete it
    store
        .apply_zone_changes(
            "west",
            &[ZoneChange::Delete {
                mesh: "shop".into(),
                name: "web-1".into(),
            }],
            false,
            2,
        )
        .await
        .unwrap();
    assert!(
        store
            .get(Kind::Dataplane, "shop", "web-1")
            .await
            .unwrap()
            .is_some()
    );

    // a recreated zone store starts over
    assert_eq!(
        store
            .zone_connected("east", "0.1.0", "east-store-2", "r1")
            .await
            .unwrap(),
        0
    );
    let zones = store.zones().await.unwrap();
    let summary: Vec<(String, bool, usize)> = zones
        .iter()
        .map(|z| (z.name.clone(), z.online, z.dataplanes.values().sum()))
        .collect();
    assert_eq!(
        summary,
        vec![("east".into(), true, 1), ("west".into(), true, 0)]
    );
    store.replica_stopped("r1").await.unwrap();
    assert!(store.zones().await.unwrap().iter().all(|zone| !zone.online));
}

async fn users_and_keys(store: Store) {
    assert!(store.user("admin").await.unwrap().is_none());
    let user = UserRow::new("admin", "h1".into(), true);
    store.upsert_user(&user).await.unwrap();
    store
        .upsert_user(&UserRow {
            password_hash: "h2".into(),
            ..user.clone()
        })
        .await
        .unwrap();
    assert_eq!(
        store.user("admin").await.unwrap().unwrap().password_hash,
        "h2"
    );
    let key = SigningKeyRow {
        kid: "k1".into(),
        private_key_pem: "p".into(),
        public_key_pem: "q".into(),
        created_at: 5,
    };
    store.insert_signing_key(&key).await.unwrap();
    store
        .insert_signing_key(&SigningKeyRow {
            private_key_pem: "other".into(),
            ..key.clone()
        })
        .await
        .unwrap();
    store
        .insert_signing_key(&SigningKeyRow {
            kid: "k2".into(),
            created_at: 6,
            ..key.clone()
        })
        .await
        .unwrap();
    let kids: Vec<String> = store
        .signing_keys()
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.kid)
        .collect();
    assert_eq!(kids, vec!["k2", "k1"], "newest first");
    assert_eq!(
        store.signing_keys().await.unwrap()[1].private_key_pem,
        "p",
        "an existing key is never replaced"
    );
}

async fn concurrent_writers(store: Store) {
    store.put(&mesh("shop"), None, &actor()).await.unwrap();
    let mut tasks = Vec::new();
    for position in 0..20u32 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .put(
                    &route("shop", &format!("r{position}"), position + 1),
                    None,
                    &actor(),
                )
                .await
        }));
    }
    let mut revisions = Vec::new();
    for task in tasks {
        revisions.push(task.await.unwrap().unwrap().0.revision);
    }
    revisions.sort();
    assert_eq!(
        revisions,
        (2..=21).collect::<Vec<u64>>(),
        "every write got its own revision"
    );
    let feed: Vec<u64> = store
        .changes_since(1, 100)
        .await
        .unwrap()
        .iter()
        .map(|row| row.revision)
        .collect();
    assert_eq!(feed, (2..=21).collect::<Vec<u64>>());
}

async fn labels_round_trip(store: Store) {
    let mut resource = mesh("shop");
    resource.metadata.labels = BTreeMap::from([("team".to_string(), "platform".to_string())]);
    store.put(&resource, None, &actor()).await.unwrap();
    let row = store.get(Kind::Mesh, "", "shop").await.unwrap().unwrap();
    assert_eq!(row.labels["team"], "platform");
    assert_eq!(
        row.to_resource().unwrap().metadata.labels,
        resource.metadata.labels
    );
    let mut changed = resource.clone();
    changed.metadata.labels.insert("tier".into(), "gold".into());
    let (row, _) = store.put(&changed, None, &actor()).await.unwrap();
    assert_eq!(row.revision, 2, "a label change is a change");
}

async fn reopen_keeps_identity(url: String) {
    let first = Store::connect(&url).await.unwrap();
    first.put(&mesh("shop"), None, &actor()).await.unwrap();
    let id = first.store_id().to_string();
    first.close().await;
    let second = Store::connect(&url).await.unwrap();
    assert_eq!(second.store_id(), id);
    assert_eq!(second.current_revision().await.unwrap(), 1);
    assert!(second.get(Kind::Mesh, "", "shop").await.unwrap().is_some());
}

async fn tokens(store: Store) {
    let now = weft_global::store::now_millis();
    let token = |id: &str, kind: TokenKind, mesh: &str, subject: &str, expires_at: i64| TokenRow {
        id: id.into(),
        kind,
        mesh: mesh.into(),
        subject: subject.into(),
        tags: BTreeMap::from([("version".to_string(), "v2".to_string())]),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    let far = now + 3_600_000;
    store
        .insert_token(&token("z1", TokenKind::Zone, "", "east", far), &actor())
        .await
        .unwrap();
    store
        .insert_token(&token("z2", TokenKind::Zone, "", "west", far), &actor())
        .await
        .unwrap();
    store
        .insert_token(
            &token("d1", TokenKind::Dataplane, "shop", "web", far),
            &actor(),
        )
        .await
        .unwrap();
    store
        .insert_token(
            &token("old", TokenKind::Dataplane, "shop", "web", now - 1),
            &actor(),
        )
        .await
        .unwrap();
    let east = store
        .tokens(TokenKind::Zone, "", Some("east"))
        .await
        .unwrap();
    assert_eq!(east.len(), 1);
    assert_eq!(east[0].tags["version"], "v2", "tags round-trip");
    assert_eq!(
        store.tokens(TokenKind::Zone, "", None).await.unwrap().len(),
        2
    );
    assert_eq!(
        store
            .tokens(TokenKind::Dataplane, "shop", None)
            .await
            .unwrap()
            .len(),
        2
    );
    let z1 = store.token("z1").await.unwrap().unwrap();
    assert!(store.revoke_token(&z1, &actor()).await.unwrap());
    assert!(
        !store.revoke_token(&z1, &actor()).await.unwrap(),
        "revoked once"
    );
    let old = store.token("old").await.unwrap().unwrap();
    assert!(store.revoke_token(&old, &actor()).await.unwrap());
    // Expired tokens fail anyway; only live revocations travel to zones.
    assert_eq!(
        store.revoked_token_ids().await.unwrap(),
        vec!["z1".to_string()]
    );
    assert!(
        store
            .token("z1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at
            .is_some()
    );
    assert!(store.token("missing").await.unwrap().is_none());
}

fn root(mesh: &str, id: i64) -> MeshCaRoot {
    MeshCaRoot {
        mesh: mesh.into(),
        id,
        certificate: format!("certificate {id}"),
        encrypted_key: format!("sealed key {id}"),
        fingerprint: format!("AA:{id}"),
        source: "builtin".into(),
        created_at: 1,
    }
}

async fn mesh_cas(store: Store) {
    store.create_mesh_ca(&root("shop", 1)).await.unwrap();
    // A second replica creating it too keeps the first.
    store
        .create_mesh_ca(&MeshCaRoot {
            fingerprint: "BB".into(),
            ..root("shop", 1)
        })
        .await
        .unwrap();
    let ready = store.mesh_ca_state("shop").await.unwrap().unwrap();
    assert_eq!(
        (
            ready.phase,
            ready.signer,
            ready.trusted.clone(),
            ready.generation
        ),
        (Phase::Ready, 1, vec![1], 1)
    );
    assert_eq!(
        store.mesh_ca_roots("shop").await.unwrap()[0].fingerprint,
        "AA:1"
    );
    let trusting = MeshCaState {
        phase: Phase::Trusting,
        trusted: vec![1, 2],
        generation: 2,
        ..ready.clone()
    };
    assert!(
        store
            .start_mesh_ca_rotation(&root("shop", 2), 1, &trusting, None)
            .await
            .unwrap()
    );
    // A writer holding a stale generation changes nothing.
    assert!(
        !store
            .start_mesh_ca_rotation(&root("shop", 3), 1, &trusting, None)
            .await
            .unwrap()
    );
    assert_eq!(store.mesh_ca_roots("shop").await.unwrap().len(), 2);
    let retiring = MeshCaState {
        phase: Phase::Retiring,
        signer: 2,
        trusted: vec![2],
        generation: 3,
        ..trusting.clone()
    };
    assert!(store.advance_mesh_ca(2, &retiring).await.unwrap());
    let roots = store.mesh_ca_roots("shop").await.unwrap();
    assert_eq!(roots.len(), 1, "the untrusted root is deleted");
    assert_eq!(roots[0].id, 2);
    assert_eq!(store.mesh_ca_states().await.unwrap(), vec![retiring]);
    store.delete_mesh_ca("shop").await.unwrap();
    assert!(store.mesh_ca_state("shop").await.unwrap().is_none());
    assert!(store.mesh_ca_roots("shop").await.unwrap().is_empty());
}

fn tenant(name: &str, members: &[(&str, &str)]) -> Resource {
    let members: Vec<String> = members
        .iter()
        .map(|(user, role)| format!("{{user: {user}, role: {role}}}"))
        .collect();
    resource(&format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Tenant\nmetadata: {{name: {name}}}\nspec: {{members: [{}]}}\n",
        members.join(", ")
    ))
}

async fn user_lifecycle(store: Store) {
    let alice = UserRow::new("alice", "h1".into(), false);
    store.create_user(&alice, &actor()).await.unwrap();
    assert!(
        matches!(
            store.create_user(&alice, &actor()).await,
            Err(Error::Conflict(_))
        ),
        "names are unique"
    );
    // A password change bumps the token generation (every older token stops working).
    store.set_password("alice", "h2", &actor()).await.unwrap();
    let changed = store.user("alice").await.unwrap().unwrap();
    assert_eq!(
        (changed.password_hash.as_str(), changed.token_generation),
        ("h2", 1)
    );
    assert!(matches!(
        store.set_password("nobody", "h", &actor()).await,
        Err(Error::NotFound(_))
    ));
    // The last platform admin stays one.
    store
        .create_user(&UserRow::new("root", "h".into(), true), &actor())
        .await
        .unwrap();
    assert!(matches!(
        store.set_platform_admin("root", false, &actor()).await,
        Err(Error::Conflict(_))
    ));
    assert!(matches!(
        store.delete_user("root", &actor()).await,
        Err(Error::Conflict(_))
    ));
    store
        .set_platform_admin("alice", true, &actor())
        .await
        .unwrap();
    store
        .set_platform_admin("root", false, &actor())
        .await
        .unwrap();
    // Deleting a user takes them out of every tenant, at a new revision, and revokes their
    // API tokens.
    store
        .put(
            &tenant("shop", &[("alice", "owner"), ("bob", "viewer")]),
            None,
            &actor(),
        )
        .await
        .unwrap();
    let token = ApiTokenRow {
        id: "tok-1".into(),
        username: "root".into(),
        name: "ci".into(),
        tenant: Some("shop".into()),
        role: Some(Role::Viewer),
        created_at: 1,
        expires_at: i64::MAX / 2,
        revoked_at: None,
    };
    store.insert_api_token(&token, &actor()).await.unwrap();
    let before = store.current_revision().await.unwrap();
    store
        .put(&tenant("ops", &[("root", "owner")]), None, &actor())
        .await
        .unwrap();
    store.delete_user("root", &actor()).await.unwrap();
    assert!(store.user("root").await.unwrap().is_none());
    let ops = store.get(Kind::Tenant, "", "ops").await.unwrap().unwrap();
    assert_eq!(ops.spec["members"], serde_json::json!([]));
    assert!(
        ops.revision > before + 1,
        "the tenant changed at a new revision"
    );
    let shop = store.get(Kind::Tenant, "", "shop").await.unwrap().unwrap();
    assert_eq!(
        shop.spec["members"].as_array().unwrap().len(),
        2,
        "untouched"
    );
    let revoked = store.api_token("tok-1").await.unwrap().unwrap();
    assert!(revoked.revoked_at.is_some());
    assert_eq!(
        (revoked.tenant.as_deref(), revoked.role),
        (Some("shop"), Some(Role::Viewer))
    );
}

async fn tokens_of_users(store: Store) {
    let token = |id: &str, user: &str| ApiTokenRow {
        id: id.into(),
        username: user.into(),
        name: format!("{id} of {user}"),
        tenant: None,
        role: None,
        created_at: 1,
        expires_at: i64::MAX / 2,
        revoked_at: None,
    };
    store
        .insert_api_token(&token("a", "alice"), &actor())
        .await
        .unwrap();
    store
        .insert_api_token(&token("b", "bob"), &actor())
        .await
        .unwrap();
    assert_eq!(store.api_tokens(Some("alice")).await.unwrap().len(), 1);
    assert_eq!(store.api_tokens(None).await.unwrap().len(), 2);
    let a = store.api_token("a").await.unwrap().unwrap();
    assert!(store.revoke_api_token(&a, &actor()).await.unwrap());
    assert!(!store.revoke_api_token(&a, &actor()).await.unwrap(), "once");
    assert!(!store.session_revoked("s-1").await.unwrap());
    store
        .revoke_session("s-1", i64::MAX / 2, &actor())
        .await
        .unwrap();
    assert!(store.session_revoked("s-1").await.unwrap());
}

async fn audit_log(store: Store) {
    let count = |store: Store| async move {
        store
            .audit_entries(&AuditQuery {
                limit: 1000,
                ..AuditQuery::default()
            })
            .await
            .unwrap()
            .len()
    };
    store
        .put(&tenant("shop", &[]), None, &actor())
        .await
        .unwrap();
    let mut shop_mesh = mesh("shop");
    if let weft_model::Spec::Mesh(spec) = &mut shop_mesh.spec {
        spec.tenant = Some("shop".into());
    }
    store.put(&shop_mesh, None, &actor()).await.unwrap();
    let (first, _) = store
        .put(&route("shop", "r", 1), None, &actor())
        .await
        .unwrap();
    assert_eq!(count(store.clone()).await, 3, "one entry per write");
    // Unchanged content is no write; failed writes leave nothing.
    store
        .put(&route("shop", "r", 1), None, &actor())
        .await
        .unwrap();
    assert!(
        store
            .put(&route("shop", "r", 2), Some(first.revision + 100), &actor())
            .await
            .is_err()
    );
    assert!(
        store
            .put(&route("nowhere", "r", 2), None, &actor())
            .await
            .is_err()
    );
    assert_eq!(count(store.clone()).await, 3);
    let (second, _) = store
        .put(&route("shop", "r", 2), Some(first.revision), &actor())
        .await
        .unwrap();
    store
        .delete(Kind::TrafficRoute, "shop", "r", None, &actor())
        .await
        .unwrap();
    let entries = store
        .audit_entries(&AuditQuery {
            tenants: Some(vec!["shop".into()]),
            kind: Some("TrafficRoute".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    let seen: Vec<(&str, Option<u64>, Option<u64>)> = entries
        .iter()
        .map(|row| {
            (
                row.entry.action.as_str(),
                row.entry.before_version,
                row.entry.after_version,
            )
        })
        .collect();
    // Newest first, with the versions before and after, in the mesh's tenant.
    assert_eq!(
        seen,
        vec![
            ("delete", Some(second.revision), None),
            ("update", Some(first.revision), Some(second.revision)),
            ("create", None, Some(first.revision)),
        ]
    );
    assert!(
        entries.iter().all(|row| row.entry.tenant == "shop"
            && row.entry.mesh == "shop"
            && row.actor == actor())
    );
    // Pages continue below the last id; other tenants see nothing.
    let page = store
        .audit_entries(&AuditQuery {
            before_id: Some(entries[0].id),
            limit: 1,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(page[0].id, entries[1].id);
    let other = store
        .audit_entries(&AuditQuery {
            tenants: Some(vec!["payments".into()]),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert!(other.is_empty());
}

/// Runs every case against databases made by `fresh`.
async fn rollouts_and_leases(store: Store) {
    use weft_model::canary::{Decision, Phase as RolloutPhase, RolloutState};
    let decision = |message: &str| Decision {
        by: "controller".into(),
        phase: RolloutPhase::Progressing,
        step: 0,
        weight_before: 0,
        weight_after: 10,
        check: None,
        message: message.into(),
    };
    let mut state = RolloutState::new(7, 1);
    // The first write creates the state; a second "first" write loses.
    assert!(
        store
            .advance_rollout("shop", "canary", None, &state, &[decision("one")], None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_rollout("shop", "canary", None, &state, &[decision("lost")], None)
            .await
            .unwrap()
    );
    let row = store
        .rollout_state("shop", "canary")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.version, row.state.generation), (1, 7));
    // Compare-and-swap: the writer holding version 1 wins once; a stale one changes nothing.
    state.phase = RolloutPhase::Progressing;
    state.canary_weight = 10;
    assert!(
        store
            .advance_rollout("shop", "canary", Some(1), &state, &[decision("two")], None)
            .await
            .unwrap()
    );
    assert!(
        !store
            .advance_rollout(
                "shop",
                "canary",
                Some(1),
                &state,
                &[decision("stale")],
                None
            )
            .await
            .unwrap()
    );
    let row = store
        .rollout_state("shop", "canary")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((row.version, row.state.canary_weight), (2, 10));
    // A user's action carries its audit entry in the same transaction.
    let entry = weft_global::store::AuditEntry::new("pause", "Rollout", "canary").in_mesh("shop");
    assert!(
        store
            .advance_rollout(
                "shop",
                "canary",
                Some(2),
                &state,
                &[decision("three")],
                Some((&actor(), &entry))
            )
            .await
            .unwrap()
    );
    let audit = store
        .audit_entries(&AuditQuery {
            kind: Some("Rollout".into()),
            limit: 10,
            ..AuditQuery::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    // History: newest first, paged by id, only what was written.
    let page = store
        .rollout_history("shop", "canary", None, 2)
        .await
        .unwrap();
    let messages: Vec<&str> = page
        .iter()
        .map(|row| row.decision.message.as_str())
        .collect();
    assert_eq!(messages, ["three", "two"]);
    let older = store
        .rollout_history("shop", "canary", Some(page[1].id), 10)
        .await
        .unwrap();
    assert_eq!(
        older
            .iter()
            .map(|row| row.decision.message.as_str())
            .collect::<Vec<_>>(),
        ["one"]
    );
    assert_eq!(store.rollout_states().await.unwrap().len(), 1);
    store.forget_rollout("shop", "canary").await.unwrap();
    assert!(
        store
            .rollout_state("shop", "canary")
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .rollout_history("shop", "canary", None, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn replicas_and_leases(store: Store) {
    // The leader lease: one holder at a time, renewals keep its term, release or expiry hands
    // it over with a higher term (the fencing token of the new leader).
    assert_eq!(
        store.acquire_lease("leader", "a", 60_000).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.acquire_lease("leader", "a", 60_000).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.acquire_lease("leader", "b", 60_000).await.unwrap(),
        None
    );
    store.release_lease("leader", "b").await.unwrap();
    assert_eq!(
        store.acquire_lease("leader", "b", 60_000).await.unwrap(),
        None,
        "only the holder releases"
    );
    store.release_lease("leader", "a").await.unwrap();
    assert_eq!(
        store.acquire_lease("leader", "b", -1).await.unwrap(),
        Some(2)
    );
    assert_eq!(
        store.acquire_lease("leader", "a", 60_000).await.unwrap(),
        Some(3),
        "an expired lease is taken over"
    );

    // Zones held by a replica that stops beating go offline, by the leader's hand only.
    store.register_zone("east").await.unwrap();
    store.register_zone("west").await.unwrap();
    store
        .zone_connected("east", "1", "store-e", "r1")
        .await
        .unwrap();
    store
        .zone_connected("west", "1", "store-w", "r2")
        .await
        .unwrap();
    store
        .replica_heartbeat("r1", 1, &["east".to_string()])
        .await
        .unwrap();
    store
        .put_zone_report("west", "health", "r2", "[]")
        .await
        .unwrap();
    store
        .put_zone_report("west", "health", "r2", "[1]")
        .await
        .unwrap();
    assert_eq!(
        store.zone_report_versions("r1").await.unwrap(),
        vec![("west".to_string(), "health".to_string(), 2)]
    );
    assert_eq!(
        store.zone_report("west", "health").await.unwrap(),
        Some((2, "[1]".to_string()))
    );
    assert!(store.zone_report_versions("r2").await.unwrap().is_empty());
    // A deposed leader (term 1) changes nothing.
    assert!(
        store
            .orphaned_zones_offline("leader", "a", 1, 10_000)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        store
            .orphaned_zones_offline("leader", "a", 3, 10_000)
            .await
            .unwrap(),
        vec!["west".to_string()]
    );
    let online: Vec<(String, bool)> = store
        .zones()
        .await
        .unwrap()
        .into_iter()
        .map(|zone| (zone.name, zone.online))
        .collect();
    assert_eq!(online, vec![("east".into(), true), ("west".into(), false)]);
    assert!(store.zone_report("west", "health").await.unwrap().is_none());
    assert_eq!(
        store.live_replicas(10_000).await.unwrap(),
        vec!["r1".to_string()]
    );
    // Only the replica holding the stream marks the zone offline.
    store.zone_disconnected("east", "r2").await.unwrap();
    assert!(store.zones().await.unwrap()[0].online);
    store.replica_stopped("r1").await.unwrap();
    assert!(!store.zones().await.unwrap()[0].online);
    assert!(store.live_replicas(10_000).await.unwrap().is_empty());

    // Telemetry seconds are shared with the other replicas, once each.
    for (replica, second) in [("r1", 100), ("r2", 100), ("r2", 101), ("r2", 101)] {
        store
            .put_traffic_second(&TrafficSecond {
                replica: replica.into(),
                mesh: "shop".into(),
                second,
                edges: format!("[{second}]"),
            })
            .await
            .unwrap();
    }
    let seen: Vec<(String, u64)> = store
        .traffic_seconds_since("r1", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|second| (second.replica, second.second))
        .collect();
    assert_eq!(seen, vec![("r2".into(), 100), ("r2".into(), 101)]);
    assert_eq!(store.forget_traffic_before(101).await.unwrap(), 2);
}

async fn compaction(store: Store) {
    store.put(&mesh("shop"), None, &actor()).await.unwrap();
    store
        .put(&route("shop", "a", 1), None, &actor())
        .await
        .unwrap();
    store
        .put(&route("shop", "b", 1), None, &actor())
        .await
        .unwrap();
    store
        .delete(Kind::TrafficRoute, "shop", "a", None, &actor())
        .await
        .unwrap();
    let deleted_at = store.current_revision().await.unwrap();
    assert_eq!(store.compacted_revision().await.unwrap(), 0);
    // Nothing old enough yet.
    assert_eq!(store.compact_tombstones(0).await.unwrap(), 0);
    let point = store.compact_tombstones(i64::MAX).await.unwrap();
    assert_eq!(
        point, deleted_at,
        "the point is the newest tombstone removed"
    );
    assert_eq!(store.compacted_revision().await.unwrap(), deleted_at);
    let feed = store.changes_since(0, 100).await.unwrap();
    assert!(feed.iter().all(|row| !row.deleted), "tombstones are gone");
    assert_eq!(feed.len(), 2, "live rows stay");
    // Compacting again with nothing to remove keeps the point.
    assert_eq!(
        store.compact_tombstones(i64::MAX).await.unwrap(),
        deleted_at
    );
}

async fn run_suite(backend: &str, mut fresh: impl FnMut() -> String) {
    macro_rules! case {
        ($name:ident) => {{
            eprintln!("[{backend}] {}", stringify!($name));
            $name(Store::connect(&fresh()).await.unwrap()).await;
        }};
    }
    case!(put_get_list);
    case!(optimistic_concurrency);
    case!(tombstones_and_change_feed);
    case!(mesh_deletion);
    case!(zone_changes);
    case!(users_and_keys);
    case!(concurrent_writers);
    case!(labels_round_trip);
    case!(tokens);
    case!(mesh_cas);
    case!(user_lifecycle);
    case!(tokens_of_users);
    case!(audit_log);
    case!(rollouts_and_leases);
    case!(replicas_and_leases);
    case!(compaction);
    eprintln!("[{backend}] reopen_keeps_identity");
    reopen_keeps_identity(fresh()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_store() {
    let directory = tempfile::tempdir().unwrap();
    let mut counter = 0;
    run_suite("sqlite", || {
        counter += 1;
        format!(
            "sqlite://{}?mode=rwc",
            directory
                .path()
                .join(format!("store-{counter}.db"))
                .display()
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_store() {
    let cluster = PgCluster::start();
    run_suite("postgres", || cluster.fresh_database()).await;
}
