//! The router with a fresh store and a logged-in admin, for API tests.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tokio::sync::watch;
use tower::ServiceExt;
use weft_global::auth::{Authority, hash_password};
use weft_global::http::{AppState, app};
use weft_global::metrics::Metrics;
use weft_global::store::{Store, UserRow};
use weft_global::traffic::{Thresholds, TrafficWindow};

pub struct Api {
    pub router: Router,
    pub state: AppState,
    pub token: String,
    _directory: Option<tempfile::TempDir>,
    _shutdown: watch::Sender<bool>,
}

pub const PASSWORD: &str = "correct-horse-battery";

/// An API over a fresh SQLite store.
pub async fn api() -> Api {
    let directory = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        directory.path().join("api.db").display()
    );
    api_with(&url, directory).await
}

/// The application state over the store at `url`, with the secrets key in `directory`.
pub async fn state_over(url: &str, directory: &std::path::Path) -> (AppState, watch::Sender<bool>) {
    let store = Store::connect(url).await.unwrap();
    let authority = Arc::new(
        Authority::load(&store, Duration::from_secs(3600))
            .await
            .unwrap(),
    );
    let (shutdown_sender, shutdown) = watch::channel(false);
    let secrets = weft_global::secrets::Secrets::load_or_create(&directory.join("secrets.key"))
        .expect("secrets key");
    let cas = Arc::new(weft_global::ca::MeshCas::new(
        store.clone(),
        Arc::new(secrets),
    ));
    let state = AppState {
        store,
        authority,
        cas,
        traffic: Arc::new(TrafficWindow::new()),
        metrics: Arc::new(Metrics::default()),
        // Absent unless a test writes one (`with_console`).
        console_dir: Some(directory.join("console")),
        thresholds: Thresholds::default(),
        shutdown,
        login_guard: Arc::new(weft_global::auth::guard::LoginGuard::default()),
        graph_hub: Arc::default(),
        graphql: weft_global::http::graphql::schema(),
        rollouts_wake: Arc::default(),
    };
    (state, shutdown_sender)
}

/// An API over the store at `url`; `directory` lives as long as the API.
pub async fn api_with(url: &str, directory: tempfile::TempDir) -> Api {
    let mut api = api_in(url, directory.path()).await;
    api._directory = Some(directory);
    api
}

/// An API over the store at `url`, with its secrets key in `directory`.
pub async fn api_in(url: &str, directory: &std::path::Path) -> Api {
    {
        let store = Store::connect(url).await.unwrap();
        let hash = hash_password(PASSWORD).unwrap();
        store
            .upsert_user(&UserRow::new("admin", hash, true))
            .await
            .unwrap();
        store.close().await;
    }
    let (state, shutdown_sender) = state_over(url, directory).await;
    let router = app(state.clone());
    let mut api = Api {
        router,
        state,
        token: String::new(),
        _directory: None,
        _shutdown: shutdown_sender,
    };
    let (status, body) = api
        .call(
            "POST",
            "/api/v1/auth/login",
            Some(json!({"username": "admin", "password": PASSWORD}).to_string()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    api.token = body["token"].as_str().unwrap().to_string();
    // The example tenant and its members: alice owns shop-team, bob edits, carol views.
    for user in ["alice", "bob", "carol"] {
        let (status, body) = api
            .call(
                "POST",
                "/api/v1/users",
                Some(json!({"username": user, "password": PASSWORD}).to_string()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (status, body) = api
        .put_yaml(
            "/api/v1/tenants/shop-team",
            weft_model::Kind::Tenant.example(),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    api
}

/// A mesh of `tenant` named `name`, as YAML.
pub fn mesh_in(name: &str, tenant: &str) -> String {
    format!(
        "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {{name: {name}}}\nspec: {{tenant: {tenant}}}\n"
    )
}

impl Api {
    pub async fn call(&self, method: &str, uri: &str, body: Option<String>) -> (StatusCode, Value) {
        self.call_as(method, uri, body, Some(&self.token.clone()))
            .await
    }

    pub async fn call_as(
        &self,
        method: &str,
        uri: &str,
        body: Option<String>,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let mut request = Request::builder().method(method).uri(uri);
        if let Some(token) = token.filter(|token| !token.is_empty()) {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(body.map(Body::from).unwrap_or_else(Body::empty))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        (status, value)
    }

    /// A login token of `user` (password [`PASSWORD`]).
    pub async fn login(&self, user: &str) -> String {
        let (status, body) = self
            .call_as(
                "POST",
                "/api/v1/auth/login",
                Some(json!({"username": user, "password": PASSWORD}).to_string()),
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    pub async fn put_yaml(&self, uri: &str, yaml: &str) -> (StatusCode, Value) {
        self.call("PUT", uri, Some(yaml.to_string())).await
    }
}

/// Gives the APIs over `directory` a console (its index page only).
pub fn with_console(directory: &std::path::Path) {
    std::fs::create_dir_all(directory.join("console")).unwrap();
    std::fs::write(
        directory.join("console/index.html"),
        "<!doctype html><title>Weft</title>",
    )
    .unwrap();
}
