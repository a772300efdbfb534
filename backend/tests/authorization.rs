//! The authorization matrix, generated from the OpenAPI document: every route × every kind of
//! caller → the status it must get, on SQLite and on Postgres.
//!
//! The world: tenant `shop-team` (alice owner, bob editor, carol viewer) owns mesh `shop`
//! with one resource of every kind and a registered dataplane; tenant `pay-team` (dave owner)
//! owns mesh `pay`. Callers with no valid token get 401 everywhere but the public routes;
//! dave gets 404 for everything of `shop`. Calls that are allowed to write run on a fresh copy
//! of the world; the others run on one shared copy, which must not change.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use weft_global::access::Access;
use weft_global::http::{app, routes};
use weft_global::store::{Store, ZoneChange};
use weft_model::Kind;
use weft_model::resource::{Author, Resource};
use weft_model::tenant::Role;
use weft_testkit::postgres::PgCluster;

/// Who calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Admin,
    /// A member of shop-team.
    A(Role),
    /// The owner of pay-team.
    OwnerOfB,
    /// A token that must be refused whatever the route: why.
    Invalid(&'static str),
}

/// What a call must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Past authorization: a 2xx.
    Allowed,
    /// Past authorization, refused for another reason the route documents.
    AllowedButRefused(u16),
    Status(u16),
}

const VICTIM: &str = "victim";

/// Sends one request; event streams answer with their status only.
async fn send(
    router: &Router,
    method: &str,
    uri: &str,
    body: Option<String>,
    token: Option<&str>,
) -> (StatusCode, Value) {
    let mut request = Request::builder().method(method).uri(uri);
    if let Some(token) = token {
        request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    if body.is_some() {
        request = request.header(header::CONTENT_TYPE, "application/json");
    }
    let request = request
        .body(body.map(Body::from).unwrap_or_else(Body::empty))
        .unwrap();
    let response = router.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let streaming = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"text/event-stream"));
    if streaming {
        return (status, Value::Null);
    }
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let value = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
    (status, value)
}

/// The example of `kind` as JSON, named `name`, in mesh `shop` when mesh-scoped.
fn example(kind: Kind, name: &str) -> Value {
    let mut document = weft_model::manifest::parse_documents(kind.example())
        .unwrap()
        .remove(0);
    document["metadata"]["name"] = json!(name);
    if kind.is_mesh_scoped() {
        document["metadata"]["mesh"] = json!("shop");
    }
    document
}

fn example_name(kind: Kind) -> String {
    weft_model::manifest::parse_documents(kind.example()).unwrap()[0]["metadata"]["name"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Tokens of the world, by caller.
struct World {
    tokens: BTreeMap<&'static str, String>,
    /// Path parameter values that are not fixed.
    zone_token: String,
    dataplane_token: String,
    admin_api_token: String,
}

fn label(who: Who) -> &'static str {
    match who {
        Who::Anonymous => "anonymous",
        Who::Admin => "admin",
        Who::A(Role::Owner) => "alice",
        Who::A(Role::Editor) => "bob",
        Who::A(Role::Viewer) => "carol",
        Who::OwnerOfB => "dave",
        Who::Invalid(why) => why,
    }
}

const CALLERS: &[Who] = &[
    Who::Anonymous,
    Who::Admin,
    Who::A(Role::Owner),
    Who::A(Role::Editor),
    Who::A(Role::Viewer),
    Who::OwnerOfB,
    Who::Invalid("revoked"),
    Who::Invalid("expired"),
    Who::Invalid("unknown-key"),
    Who::Invalid("alg-none"),
    Who::Invalid("hs256-with-public-key"),
    Who::Invalid("password-changed"),
];

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Tokens no route may accept, made with the store's real key id.
async fn forged_tokens(store: &Store) -> BTreeMap<&'static str, String> {
    let keys = store.signing_keys().await.unwrap();
    let key = &keys[0];
    let now = jsonwebtoken::get_current_timestamp();
    let claims = |exp: u64| {
        json!({"sub": "alice", "iss": weft_identity::ISSUER, "aud": "weft-api",
               "exp": exp, "iat": now, "jti": uuid::Uuid::new_v4().to_string(), "gen": 0})
    };
    let mut forged = BTreeMap::new();
    // Signed with the real key, but expired an hour ago.
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.kid = Some(key.kid.clone());
    let real = jsonwebtoken::EncodingKey::from_ed_pem(key.private_key_pem.as_bytes()).unwrap();
    forged.insert(
        "expired",
        jsonwebtoken::encode(&header, &claims(now - 3600), &real).unwrap(),
    );
    // A well-formed token from a key global never had.
    let stranger = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
    let stranger_pem = {
        use ed25519_dalek::pkcs8::EncodePrivateKey;
        stranger
            .to_pkcs8_pem(ed25519_dalek::pkcs8::spki::der::pem::LineEnding::LF)
            .unwrap()
            .to_string()
    };
    let mut unknown = header.clone();
    unknown.kid = Some("unknown".into());
    forged.insert(
        "unknown-key",
        jsonwebtoken::encode(
            &unknown,
            &claims(now + 3600),
            &jsonwebtoken::EncodingKey::from_ed_pem(stranger_pem.as_bytes()).unwrap(),
        )
        .unwrap(),
    );
    // The real key id with the strongest-sounding lies a client can make.
    let body = b64(claims(now + 3600).to_string().as_bytes());
    let none_header = b64(json!({"alg": "none", "kid": key.kid, "typ": "JWT"})
        .to_string()
        .as_bytes());
    forged.insert("alg-none", format!("{none_header}.{body}."));
    let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
    hs.kid = Some(key.kid.clone());
    forged.insert(
        "hs256-with-public-key",
        jsonwebtoken::encode(
            &hs,
            &claims(now + 3600),
            &jsonwebtoken::EncodingKey::from_secret(key.public_key_pem.as_bytes()),
        )
        .unwrap(),
    );
    forged
}

/// Builds the world in the store at `url` (closed again afterwards).
async fn build_world(url: &str, directory: &Path) -> World {
    let api = common::api_in(url, directory).await;
    let admin = api.token.clone();
    let call = |method: &'static str, uri: String, body: Value| {
        let router = api.router.clone();
        let admin = admin.clone();
        async move {
            let (status, answer) =
                send(&router, method, &uri, Some(body.to_string()), Some(&admin)).await;
            assert!(status.is_success(), "{method} {uri}: {status} {answer}");
            answer
        }
    };
    for user in ["dave", VICTIM] {
        call(
            "POST",
            "/api/v1/users".into(),
            json!({"username": user, "password": common::PASSWORD}),
        )
        .await;
    }
    call(
        "PUT",
        "/api/v1/tenants/pay-team".into(),
        json!({"apiVersion": "weft.dev/v1alpha1", "kind": "Tenant", "metadata": {"name": "pay-team"},
               "spec": {"members": [{"user": "dave", "role": "owner"}]}}),
    )
    .await;
    for (mesh, tenant) in [("shop", "shop-team"), ("pay", "pay-team")] {
        call(
            "PUT",
            format!("/api/v1/meshes/{mesh}"),
            json!({"apiVersion": "weft.dev/v1alpha1", "kind": "Mesh", "metadata": {"name": mesh},
                   "spec": {"tenant": tenant, "mtls": {"mode": "permissive"}}}),
        )
        .await;
    }
    for &kind in Kind::ALL {
        if kind.is_mesh_scoped() && kind != Kind::Dataplane {
            let name = example_name(kind);
            call(
                "PUT",
                format!("/api/v1/meshes/shop/{}/{name}", kind.plural()),
                example(kind, &name),
            )
            .await;
        }
    }
    // A zone with a dataplane in shop, as if it had connected.
    let store = &api.state.store;
    assert!(store.register_zone("east").await.unwrap());
    store
        .zone_connected("east", "0.1.0", "east-store", "r1")
        .await
        .unwrap();
    let dataplane = Resource::from_value(
        example(Kind::Dataplane, &example_name(Kind::Dataplane)),
        Author::Zone,
    )
    .unwrap();
    store
        .apply_zone_changes("east", &[ZoneChange::Upsert(Box::new(dataplane))], false, 1)
        .await
        .unwrap();
    let zone_token = call("POST", "/api/v1/zones/east/token".into(), json!({})).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let dataplane_token = call(
        "POST",
        "/api/v1/meshes/shop/dataplane-tokens".into(),
        json!({"service": "web"}),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let admin_api_token = call(
        "POST",
        "/api/v1/auth/tokens".into(),
        json!({"name": "matrix"}),
    )
    .await["about"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut tokens = BTreeMap::new();
    tokens.insert("admin", admin.clone());
    for user in ["alice", "bob", "carol", "dave"] {
        tokens.insert(user, api.login(user).await);
    }
    // alice logged out of one session; victim's password changed after a login.
    let revoked = api.login("alice").await;
    let (status, _) = send(
        &api.router,
        "POST",
        "/api/v1/auth/logout",
        None,
        Some(&revoked),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    tokens.insert("revoked", revoked);
    let stale = api.login(VICTIM).await;
    call(
        "PUT",
        format!("/api/v1/users/{VICTIM}/password"),
        json!({"newPassword": common::PASSWORD}),
    )
    .await;
    tokens.insert("password-changed", stale);
    tokens.extend(forged_tokens(store).await);
    api.state.store.close().await;
    World {
        tokens,
        zone_token,
        dataplane_token,
        admin_api_token,
    }
}

/// The value of path parameter `name` in a route of `path` called with `method`.
fn parameter(world: &World, method: &str, path: &str, name: &str) -> String {
    match name {
        "mesh" => "shop".into(),
        "tenant" => "shop-team".into(),
        "zone" => "east".into(),
        "user"
            if path.ends_with("/password")
                || method == "DELETE" && path == "/api/v1/users/{user}" =>
        {
            VICTIM.into()
        }
        "user" => "carol".into(),
        "id" if path.contains("/zones/") => world.zone_token.clone(),
        "id" if path.contains("/dataplane-tokens/") => world.dataplane_token.clone(),
        "id" => world.admin_api_token.clone(),
        "name" if path.contains("/dataplanes/") => example_name(Kind::Dataplane),
        "name" => {
            let plural = path.split('/').nth(5).unwrap_or_default();
            example_name(Kind::from_plural(plural).expect("a kind"))
        }
        other => panic!("no value for path parameter {other} of {path}"),
    }
}

/// The body a call of `method path` sends.
fn body(method: &str, path: &str, url: &str) -> Option<Value> {
    let kind_of = |path: &str| {
        let parts: Vec<&str> = path.split('/').collect();
        let plural = if path.starts_with("/api/v1/meshes/{mesh}/") {
            parts[5]
        } else {
            parts[3]
        };
        Kind::from_plural(plural)
    };
    Some(match (method, path) {
        ("POST", "/api/v1/auth/tokens") => json!({"name": "matrix"}),
        ("POST", "/api/graphql") => json!({"query": "{ whoami { user } meshes { name } }"}),
        ("POST", "/api/v1/users") => json!({"username": "newcomer", "password": "long-enough-1"}),
        ("PATCH", "/api/v1/users/{user}") => json!({"platformAdmin": false}),
        ("PUT", "/api/v1/users/{user}/password") => json!({"newPassword": "another-password-1"}),
        ("POST", "/api/v1/tenants/{tenant}/members") => json!({"user": VICTIM, "role": "viewer"}),
        ("PUT", "/api/v1/tenants/{tenant}/members/{user}") => json!({"role": "viewer"}),
        ("POST", "/api/v1/zones/{zone}/token") => json!({}),
        ("POST", "/api/v1/meshes/{mesh}/dataplane-tokens") => json!({"service": "web"}),
        ("POST", "/api/v1/apply") => {
            return Some(Value::String(
                serde_json::to_string(&example(Kind::Timeout, "applied")).unwrap(),
            ));
        }
        ("POST", "/api/v1/auth/login") => {
            json!({"username": "admin", "password": common::PASSWORD})
        }
        ("PUT", _) => {
            let kind = kind_of(path)?;
            let name = url.rsplit('/').next().unwrap_or_default();
            example(kind, name)
        }
        _ => return None,
    })
}

/// What `who` must get from a route with `access` at `method path`.
fn expected(access: Access, method: &str, path: &str, who: Who) -> Expect {
    use Expect::{Allowed, AllowedButRefused, Status};
    let member_of_a = |who: Who| match who {
        Who::A(role) => Some(role),
        _ => None,
    };
    if access == Access::Public {
        return Allowed;
    }
    match who {
        Who::Anonymous | Who::Invalid(_) => return Status(401),
        _ => {}
    }
    // Routes whose handler decides more than the access rule.
    match (method, path) {
        ("GET", "/api/v1/users/{user}") => {
            return match who {
                Who::Admin | Who::A(Role::Viewer) => Allowed,
                _ => Status(404),
            };
        }
        ("PUT", "/api/v1/users/{user}/password") => {
            return if who == Who::Admin {
                Allowed
            } else {
                Status(404)
            };
        }
        ("DELETE", "/api/v1/auth/tokens/{id}") => {
            return if who == Who::Admin {
                Allowed
            } else {
                Status(404)
            };
        }
        ("GET", "/api/v1/audit") => {
            return match who {
                Who::Admin | Who::A(Role::Owner) | Who::OwnerOfB => Allowed,
                _ => Status(403),
            };
        }
        // The mesh still has a registered dataplane; the tenant still owns the mesh.
        ("DELETE", "/api/v1/meshes/{mesh}") if matches!(who, Who::Admin | Who::A(Role::Owner)) => {
            return AllowedButRefused(409);
        }
        // The world's rollout has not been paused, so it cannot resume.
        ("POST", "/api/v1/meshes/{mesh}/rollouts/{name}/resume")
            if matches!(who, Who::Admin | Who::A(Role::Owner | Role::Editor)) =>
        {
            return AllowedButRefused(409);
        }
        // The tenant still owns the mesh; the zone is connected.
        ("DELETE", "/api/v1/tenants/{tenant}" | "/api/v1/zones/{zone}") if who == Who::Admin => {
            return AllowedButRefused(409);
        }
        _ => {}
    }
    let in_a = |needed: Role| match who {
        Who::Admin => Allowed,
        Who::OwnerOfB => Status(404),
        other => match member_of_a(other) {
            Some(role) if role.allows(needed) => Allowed,
            Some(_) => Status(403),
            None => Status(404),
        },
    };
    if (method, path) == ("POST", "/api/v1/apply") {
        // Each document is authorized as its own PUT: a Timeout in shop needs an editor.
        return in_a(Role::Editor);
    }
    match access {
        Access::Public | Access::User => Allowed,
        Access::PlatformAdmin => {
            if who == Who::Admin {
                Allowed
            } else {
                Status(403)
            }
        }
        Access::Tenant(role) | Access::Mesh(role) => in_a(role),
        Access::TenantOrCreate | Access::MeshOrCreate => in_a(Role::Owner),
    }
}

/// A copy of the world's store.
struct Copies {
    directory: tempfile::TempDir,
    template: String,
    cluster: Option<PgCluster>,
    counter: std::cell::Cell<usize>,
}

impl Copies {
    fn copy(&self) -> String {
        match &self.cluster {
            Some(cluster) => cluster.copy_database(&PgCluster::database_name(&self.template)),
            None => {
                let number = self.counter.get() + 1;
                self.counter.set(number);
                let path = self.directory.path().join(format!("copy-{number}.db"));
                let source = self.template.trim_start_matches("sqlite://");
                let source = source.split('?').next().unwrap();
                std::fs::copy(source, &path).unwrap();
                format!("sqlite://{}?mode=rwc", path.display())
            }
        }
    }

    async fn router(&self) -> (Router, Store, tokio::sync::watch::Sender<bool>) {
        let (state, shutdown) = common::state_over(&self.copy(), self.directory.path()).await;
        let store = state.store.clone();
        (app(state), store, shutdown)
    }
}

async fn matrix(copies: Copies) {
    // Every route answers, the console's GraphQL explorer page included.
    common::with_console(copies.directory.path());
    let world = build_world(&copies.template, copies.directory.path()).await;
    let document = serde_json::to_value(weft_global::http::openapi::document()).unwrap();
    let routes = routes::all();
    let mut operations = 0;
    let (shared, shared_store, _shutdown) = copies.router().await;
    let revision = shared_store.current_revision().await.unwrap();
    let mut failures = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, _) in item.as_object().unwrap() {
            operations += 1;
            let method = method.to_uppercase();
            let route = routes
                .iter()
                .find(|route| {
                    route.method.as_str() == method && format!("/api{}", route.path) == *path
                })
                .unwrap_or_else(|| panic!("{method} {path} is documented but not routed"));
            let mut url = path.clone();
            for name in route.parameters() {
                url = url.replace(
                    &format!("{{{name}}}"),
                    &parameter(&world, &method, path, name),
                );
            }
            let sent = body(&method, path, &url).map(|body| match body {
                Value::String(text) => text,
                other => other.to_string(),
            });
            for &who in CALLERS {
                let expect = expected(route.access, &method, path, who);
                let token = world.tokens.get(label(who)).map(String::as_str);
                let writes = method != "GET"
                    && matches!(expect, Expect::Allowed | Expect::AllowedButRefused(_));
                let (status, answer) = if writes {
                    let (router, store, _shutdown) = copies.router().await;
                    let outcome = send(&router, &method, &url, sent.clone(), token).await;
                    store.close().await;
                    outcome
                } else {
                    send(&shared, &method, &url, sent.clone(), token).await
                };
                let ok = match expect {
                    Expect::Allowed => status.is_success(),
                    Expect::AllowedButRefused(code) | Expect::Status(code) => {
                        status.as_u16() == code
                    }
                };
                if !ok {
                    failures.push(format!(
                        "{method} {url} as {}: expected {expect:?}, got {status} {answer}",
                        label(who)
                    ));
                }
            }
        }
    }
    assert_eq!(
        operations,
        routes.len(),
        "every route is in the document once"
    );
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert_eq!(
        shared_store.current_revision().await.unwrap(),
        revision,
        "refused calls changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_caller_on_sqlite() {
    let directory = tempfile::tempdir().unwrap();
    let template = format!(
        "sqlite://{}?mode=rwc",
        directory.path().join("world.db").display()
    );
    matrix(Copies {
        directory,
        template,
        cluster: None,
        counter: Default::default(),
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_route_for_every_caller_on_postgres() {
    let cluster = PgCluster::start();
    let template = cluster.fresh_database();
    matrix(Copies {
        directory: tempfile::tempdir().unwrap(),
        template,
        cluster: Some(cluster),
        counter: Default::default(),
    })
    .await;
}

/// A fresh SQLite world and a router over it.
async fn sqlite_world() -> (World, Router, Store, Copies) {
    let directory = tempfile::tempdir().unwrap();
    let template = format!(
        "sqlite://{}?mode=rwc",
        directory.path().join("world.db").display()
    );
    let copies = Copies {
        directory,
        template,
        cluster: None,
        counter: Default::default(),
    };
    let world = build_world(&copies.template, copies.directory.path()).await;
    let (router, store, shutdown) = copies.router().await;
    std::mem::forget(shutdown);
    (world, router, store, copies)
}

fn names(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["metadata"]["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_owner_of_another_tenant_sees_nothing_of_it() {
    let (world, router, _store, _copies) = sqlite_world().await;
    let dave = Some(world.tokens["dave"].as_str());
    let alice = Some(world.tokens["alice"].as_str());
    let (_, meshes) = send(&router, "GET", "/api/v1/meshes", None, dave).await;
    assert_eq!(names(&meshes), vec!["pay"]);
    let (_, meshes) = send(&router, "GET", "/api/v1/meshes", None, alice).await;
    assert_eq!(names(&meshes), vec!["shop"]);
    let (_, tenants) = send(&router, "GET", "/api/v1/tenants", None, dave).await;
    assert_eq!(names(&tenants), vec!["pay-team"]);
    // Zones are shared; their dataplane counts only count the caller's meshes.
    let (_, zones) = send(&router, "GET", "/api/v1/zones", None, dave).await;
    assert_eq!(zones["items"][0]["status"]["dataplanes"], 0, "{zones}");
    let (_, zones) = send(&router, "GET", "/api/v1/zones", None, alice).await;
    assert_eq!(zones["items"][0]["status"]["dataplanes"], 1, "{zones}");
    // The audit log of pay-team's owner holds pay-team's entries only.
    let (status, audit) = send(&router, "GET", "/api/v1/audit?limit=1000", None, dave).await;
    assert_eq!(status, StatusCode::OK);
    let entries = audit["items"].as_array().unwrap();
    assert!(!entries.is_empty());
    assert!(
        entries.iter().all(|entry| entry["tenant"] == "pay-team"),
        "{audit}"
    );
    // A filter on the other tenant finds nothing rather than an error.
    let (_, audit) = send(&router, "GET", "/api/v1/audit?tenant=shop-team", None, dave).await;
    assert_eq!(audit["items"], json!([]));
    // Every way into shop is a 404 naming the mesh, as if it did not exist.
    for uri in [
        "/api/v1/meshes/shop",
        "/api/v1/meshes/shop/services",
        "/api/v1/meshes/shop/graph",
        "/api/v1/meshes/shop/graph/stream",
        "/api/v1/meshes/shop/rollouts",
        "/api/v1/meshes/shop/dataplanes",
        "/api/v1/meshes/nonexistent",
    ] {
        let (status, body) = send(&router, "GET", uri, None, dave).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("mesh \""),
            "{uri}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_owned_fields_in_bodies_never_take_effect() {
    let (world, router, store, _copies) = sqlite_world().await;
    let token = |who: &str| Some(world.tokens[who].clone());
    // An owner of shop-team cannot move shop into pay-team, nor create a mesh there.
    let mut moved = example(Kind::Mesh, "shop");
    moved["spec"]["tenant"] = json!("pay-team");
    let (status, body) = send(
        &router,
        "PUT",
        "/api/v1/meshes/shop",
        Some(moved.to_string()),
        token("alice").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    moved["metadata"]["name"] = json!("elsewhere");
    let (status, _) = send(
        &router,
        "PUT",
        "/api/v1/meshes/elsewhere",
        Some(moved.to_string()),
        token("alice").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, shop) = send(
        &router,
        "GET",
        "/api/v1/meshes/shop",
        None,
        token("admin").as_deref(),
    )
    .await;
    assert_eq!(shop["spec"]["tenant"], "shop-team");
    // Timestamps and status in a body are ignored; the server's own stay.
    let mut route = example(Kind::TrafficRoute, "stamped");
    route["metadata"]["creationTime"] = json!("2000-01-01T00:00:00Z");
    route["status"] = json!({"forged": true});
    let (status, written) = send(
        &router,
        "PUT",
        "/api/v1/meshes/shop/trafficroutes/stamped",
        Some(route.to_string()),
        token("bob").as_deref(),
    )
    .await;
    assert!(status.is_success(), "{written}");
    assert_ne!(written["metadata"]["creationTime"], "2000-01-01T00:00:00Z");
    assert!(
        written.get("status").is_none_or(Value::is_null),
        "{written}"
    );
    // A made-up resourceVersion is a precondition, never a new version.
    route["metadata"]["resourceVersion"] = json!("999999");
    let (status, _) = send(
        &router,
        "PUT",
        "/api/v1/meshes/shop/trafficroutes/stamped",
        Some(route.to_string()),
        token("bob").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    // Roles: a viewer cannot make themselves owner, an editor cannot add members, nobody but
    // a platform admin makes a platform admin.
    let (status, _) = send(
        &router,
        "PUT",
        "/api/v1/tenants/shop-team/members/carol",
        Some(json!({"role": "owner"}).to_string()),
        token("carol").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &router,
        "POST",
        "/api/v1/tenants/shop-team/members",
        Some(json!({"user": VICTIM, "role": "owner"}).to_string()),
        token("bob").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &router,
        "PATCH",
        "/api/v1/users/alice",
        Some(json!({"platformAdmin": true}).to_string()),
        token("alice").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let mut tenant = example(Kind::Tenant, "shop-team");
    tenant["spec"]["members"] = json!([{"user": "carol", "role": "owner"}]);
    let (status, _) = send(
        &router,
        "PUT",
        "/api/v1/tenants/shop-team",
        Some(tenant.to_string()),
        token("carol").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // An API token asking for more than its user has is refused; one narrowed to viewer
    // cannot write.
    let (status, body) = send(
        &router,
        "POST",
        "/api/v1/auth/tokens",
        Some(json!({"name": "up", "tenant": "shop-team", "role": "owner"}).to_string()),
        token("bob").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["details"][0]["field"], "role");
    let (status, issued) = send(
        &router,
        "POST",
        "/api/v1/auth/tokens",
        Some(json!({"name": "read-only", "tenant": "shop-team", "role": "viewer"}).to_string()),
        token("alice").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{issued}");
    let narrow = issued["token"].as_str().unwrap();
    let (status, _) = send(
        &router,
        "DELETE",
        "/api/v1/meshes/shop/trafficroutes/stamped",
        None,
        Some(narrow),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = send(
        &router,
        "GET",
        "/api/v1/meshes/shop/trafficroutes/stamped",
        None,
        Some(narrow),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    // Once revoked it opens nothing.
    let id = issued["about"]["id"].as_str().unwrap();
    let (status, _) = send(
        &router,
        "DELETE",
        &format!("/api/v1/auth/tokens/{id}"),
        None,
        token("alice").as_deref(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = send(&router, "GET", "/api/v1/whoami", None, Some(narrow)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let _ = store;
}
