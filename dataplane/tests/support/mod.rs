//! Test support for the proxy on real sockets: a configurable upstream application, a small
//! HTTP client, configs to apply, and polling with a deadline.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use tokio::sync::Notify;
use weft_dp::proxy::Proxy;
use weft_dp::telemetry::Telemetry;
use weft_model::proxy::{
    BackendConfig, EndpointConfig, InboundConfig, OutboundConfig, ProxyConfig, RuleConfig,
};
use weft_model::traffic_route::RouteMatch;

pub use weft_testkit::free_port;

/// Polls `condition` until it returns `Some`, panicking with `what` after `deadline`.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut condition: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(value) = condition().await {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How a test application answers.
#[derive(Default)]
pub struct Behaviour {
    /// Answer this many requests with `fail_status` first.
    pub fail_first: AtomicUsize,
    pub fail_status: AtomicUsize,
    /// Answer every request with this status (0: 200).
    pub status: AtomicUsize,
    /// Delay before answering, in milliseconds.
    pub delay_ms: AtomicU64,
    /// Status of `GET /health` (0: 200).
    pub health_status: AtomicUsize,
    /// When set, requests wait for `release` (one notification each).
    pub hold: std::sync::atomic::AtomicBool,
    pub release: Notify,
    pub requests: AtomicUsize,
    pub health_checks: AtomicUsize,
    pub in_flight: AtomicUsize,
}

/// A test application on a loopback port, answering with what it saw as JSON.
pub struct App {
    pub name: &'static str,
    pub port: u16,
    pub behaviour: Arc<Behaviour>,
}

impl App {
    pub async fn start(name: &'static str) -> App {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let behaviour = Arc::new(Behaviour::default());
        let state = (name, behaviour.clone());
        let app = axum::Router::new().fallback(answer).with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        App {
            name,
            port,
            behaviour,
        }
    }

    pub fn requests(&self) -> usize {
        self.behaviour.requests.load(SeqCst)
    }
}

async fn answer(
    State((name, behaviour)): State<(&'static str, Arc<Behaviour>)>,
    request: Request,
) -> Response {
    if request.uri().path() == "/health" {
        behaviour.health_checks.fetch_add(1, SeqCst);
        let status = behaviour.health_status.load(SeqCst);
        let status = StatusCode::from_u16(if status == 0 { 200 } else { status as u16 }).unwrap();
        return (status, "health").into_response();
    }
    behaviour.requests.fetch_add(1, SeqCst);
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    // Counted in flight only once it waits for `release`, so a release never goes unseen.
    let released = behaviour.release.notified();
    tokio::pin!(released);
    released.as_mut().enable();
    behaviour.in_flight.fetch_add(1, SeqCst);
    if behaviour.hold.load(SeqCst) {
        released.await;
    }
    let delay = behaviour.delay_ms.load(SeqCst);
    if delay > 0 {
        tokio::time::sleep(Duration::from_millis(delay)).await;
    }
    behaviour.in_flight.fetch_sub(1, SeqCst);
    let failing = behaviour
        .fail_first
        .fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_ok();
    let status = if failing {
        behaviour.fail_status.load(SeqCst).max(500) as u16
    } else {
        match behaviour.status.load(SeqCst) {
            0 => 200,
            status => status as u16,
        }
    };
    let mut headers: BTreeMap<String, String> = BTreeMap::new();
    for (name, value) in &parts.headers {
        let value = value.to_str().unwrap_or_default();
        headers
            .entry(name.to_string())
            .and_modify(|seen| *seen = format!("{seen}, {value}"))
            .or_insert_with(|| value.to_string());
    }
    let reply = json!({
        "name": name,
        "method": parts.method.as_str(),
        "path": parts.uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"),
        "version": format!("{:?}", parts.version),
        "headers": headers,
        "body": String::from_utf8_lossy(&body),
    });
    (StatusCode::from_u16(status).unwrap(), axum::Json(reply)).into_response()
}

/// A response as a test sees it.
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }

    /// The application that answered, from its JSON.
    pub fn name(&self) -> String {
        self.json()["name"].as_str().unwrap_or_default().to_string()
    }
}

pub struct Client {
    inner: HyperClient<HttpConnector, Full<Bytes>>,
}

impl Default for Client {
    fn default() -> Self {
        Client {
            inner: HyperClient::builder(TokioExecutor::new()).build_http(),
        }
    }
}

impl Client {
    pub fn http2() -> Client {
        Client {
            inner: HyperClient::builder(TokioExecutor::new())
                .http2_only(true)
                .build_http(),
        }
    }

    pub async fn send(&self, request: http::Request<Full<Bytes>>) -> Answer {
        let response = self
            .inner
            .request(request)
            .await
            .expect("the proxy answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&body).to_string(),
        }
    }

    pub async fn get(&self, port: u16, path: &str) -> Answer {
        self.get_with(port, path, &[]).await
    }

    pub async fn get_with(&self, port: u16, path: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = http::Request::get(format!("http://127.0.0.1:{port}{path}"));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(request.body(Full::default()).unwrap()).await
    }

    pub async fn get_at(&self, address: SocketAddr, path: &str) -> Answer {
        let request = http::Request::get(format!("http://{address}{path}"));
        self.send(request.body(Full::default()).unwrap()).await
    }

    pub async fn post(&self, port: u16, path: &str, body: &str) -> Answer {
        let request = http::Request::post(format!("http://127.0.0.1:{port}{path}"))
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap();
        self.send(request).await
    }
}

pub fn tags(service: &str, version: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("service".to_string(), service.to_string()),
        ("version".to_string(), version.to_string()),
    ])
}

pub fn endpoint(service: &str, version: &str, port: u16) -> EndpointConfig {
    EndpointConfig {
        address: "127.0.0.1".into(),
        port,
        tags: tags(service, version),
        dataplane: format!("{service}-{port}"),
        zone: None,
    }
}

pub fn backend(service: &str, version: Option<&str>, weight: u32) -> BackendConfig {
    BackendConfig {
        service: service.into(),
        tags: version
            .map(|v| BTreeMap::from([("version".to_string(), v.to_string())]))
            .unwrap_or_default(),
        weight,
    }
}

pub fn rule(backends: Vec<BackendConfig>) -> RuleConfig {
    RuleConfig {
        route_match: RouteMatch::default(),
        filters: Vec::new(),
        backends,
        origin: "test".into(),
    }
}

/// An outbound to `service` on `port` with one rule to all its endpoints.
pub fn outbound(port: u16, service: &str) -> OutboundConfig {
    OutboundConfig {
        port,
        service: service.into(),
        rules: vec![rule(vec![backend(service, None, 1)])],
        ..Default::default()
    }
}

pub fn inbound(port: u16, app_port: u16, service: &str) -> InboundConfig {
    InboundConfig {
        port,
        service_address: "127.0.0.1".into(),
        service_port: app_port,
        tags: tags(service, "v1"),
        ..Default::default()
    }
}

/// The config of proxy `web` (v1, zone east) with the given listeners and endpoints.
pub fn config(
    inbound: Vec<InboundConfig>,
    outbound: Vec<OutboundConfig>,
    endpoints: Vec<EndpointConfig>,
) -> ProxyConfig {
    let mut by_service: BTreeMap<String, Vec<EndpointConfig>> = BTreeMap::new();
    for endpoint in endpoints {
        by_service
            .entry(endpoint.tags["service"].clone())
            .or_default()
            .push(endpoint);
    }
    ProxyConfig {
        mesh: "shop".into(),
        dataplane: "web-1".into(),
        service: "web".into(),
        version: Some("v1".into()),
        zone: Some("east".into()),
        inbound,
        outbound,
        endpoints: by_service,
        ..Default::default()
    }
}

pub fn proxy() -> (Arc<Proxy>, Arc<Telemetry>) {
    let telemetry = Arc::new(Telemetry::default());
    (
        Proxy::new(IpAddr::V4(Ipv4Addr::LOCALHOST), telemetry.clone()),
        telemetry,
    )
}

/// A proxy serving `config` (applied as version 1).
pub async fn serve(config: ProxyConfig) -> (Arc<Proxy>, Arc<Telemetry>) {
    let (proxy, telemetry) = proxy();
    proxy.apply(1, config).await.expect("the config applies");
    (proxy, telemetry)
}

/// Requests and retries counted on edges to `service` since the last take.
pub fn counted(telemetry: &Telemetry, service: &str) -> (u64, u64, u64) {
    telemetry
        .take()
        .iter()
        .filter(|(key, _)| key.destination_service == service)
        .fold((0, 0, 0), |(requests, retries, failures), (_, c)| {
            (
                requests + c.requests,
                retries + c.retries,
                failures + c.failures(),
            )
        })
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Two proxies, like two services of a mesh: `web`'s outbound (on the returned port) calls
/// `catalog` through `catalog`'s own proxy, whose inbound reaches the application on
/// `app_port`. `shape` adjusts web's outbound before it is applied.
pub struct TwoHops {
    pub outbound_port: u16,
    pub inbound_port: u16,
    pub web: Arc<Proxy>,
    pub web_telemetry: Arc<Telemetry>,
    pub catalog: Arc<Proxy>,
}

pub async fn two_hops(
    app_port: u16,
    protocol: weft_model::dataplane::Protocol,
    shape: impl FnOnce(&mut OutboundConfig),
) -> TwoHops {
    let (outbound_port, inbound_port) = (free_port(), free_port());
    let mut listener = inbound(inbound_port, app_port, "catalog");
    listener.protocol = protocol;
    let mut catalog_config = config(vec![listener], vec![], vec![]);
    catalog_config.service = "catalog".into();
    catalog_config.dataplane = "catalog-1".into();
    let (catalog, _) = serve(catalog_config).await;
    let mut out = outbound(outbound_port, "catalog");
    out.protocol = protocol;
    shape(&mut out);
    let (web, web_telemetry) = serve(config(
        vec![],
        vec![out],
        vec![endpoint("catalog", "v1", inbound_port)],
    ))
    .await;
    TwoHops {
        outbound_port,
        inbound_port,
        web,
        web_telemetry,
        catalog,
    }
}

/// A mesh CA for tests: a root and one zone intermediate, which certify proxies directly.
pub struct TestMesh {
    pub mesh: String,
    pub root_pem: String,
    intermediate_pem: String,
    intermediate: weft_identity::ca::CertificateAuthority,
}

impl TestMesh {
    pub fn new(mesh: &str) -> TestMesh {
        use weft_identity::ca;
        let day = Duration::from_secs(86_400);
        let (root_pem, root_key) = ca::new_root(mesh, 30 * day).unwrap();
        let root = ca::CertificateAuthority::load(&root_pem, &root_key).unwrap();
        let (key, csr) = ca::new_key_and_csr("test zone").unwrap();
        let intermediate_pem = root.sign_intermediate(&csr, mesh, "east", day).unwrap();
        let intermediate = ca::CertificateAuthority::load(&intermediate_pem, &key).unwrap();
        TestMesh {
            mesh: mesh.to_string(),
            root_pem,
            intermediate_pem,
            intermediate,
        }
    }

    /// Gives `proxy` a certificate for `service`, as its zone would.
    pub fn certify(&self, proxy: &Proxy, service: &str) {
        self.certify_for(
            proxy,
            service,
            &weft_identity::ca::spiffe_id(&self.mesh, service),
        )
    }

    /// Gives `proxy` a certificate naming `spiffe_id` for `service` (for refusals).
    pub fn certify_for(&self, proxy: &Proxy, service: &str, spiffe_id: &str) {
        let identities = &proxy.shared.identities;
        for (requested, csr) in identities.requests(&[service.to_string()]) {
            let leaf = self
                .intermediate
                .sign_leaf(&csr, spiffe_id, Duration::from_secs(3600))
                .unwrap();
            identities
                .issued(
                    &requested,
                    format!("{leaf}{}", self.intermediate_pem),
                    self.root_pem.clone(),
                )
                .unwrap();
        }
    }

    /// Signs `csr` with the intermediate as `params` say (for certificates the product never makes).
    pub fn sign_raw(&self, csr: &str, params: rcgen::CertificateParams) -> String {
        self.intermediate.sign_with_params(csr, params).unwrap()
    }

    /// A key and certificate chain for `spiffe_id`, for test clients of their own.
    pub fn leaf(&self, spiffe_id: &str, lifetime: Duration) -> (String, String) {
        let (key, csr) = weft_identity::ca::new_key_and_csr("test client").unwrap();
        let leaf = self
            .intermediate
            .sign_leaf(&csr, spiffe_id, lifetime)
            .unwrap();
        (key, format!("{leaf}{}", self.intermediate_pem))
    }
}

/// A proxy of `service` in `mesh` (with its certificate) whose outbound on the returned port
/// calls `target_service` at `target_port`, over mTLS.
pub async fn caller(
    mesh: &TestMesh,
    service: &str,
    target_service: &str,
    target_port: u16,
) -> (Arc<Proxy>, Arc<Telemetry>, u16) {
    let port = free_port();
    let mut caller_config = config(
        vec![],
        vec![outbound(port, target_service)],
        vec![endpoint(target_service, "v1", target_port)],
    );
    caller_config.mesh = mesh.mesh.clone();
    caller_config.service = service.into();
    caller_config.dataplane = format!("{service}-caller");
    caller_config.mtls = weft_model::mesh::MtlsMode::Permissive;
    let (proxy, telemetry) = self::proxy();
    mesh.certify(&proxy, service);
    proxy
        .apply(1, caller_config)
        .await
        .expect("the caller's config applies");
    (proxy, telemetry, port)
}

/// A proxy of `service` with one inbound in front of `app_port`, in `mode`, certified.
pub async fn callee(
    mesh: &TestMesh,
    service: &str,
    app_port: u16,
    mode: weft_model::mesh::MtlsMode,
    shape: impl FnOnce(&mut InboundConfig),
) -> (Arc<Proxy>, Arc<Telemetry>, u16) {
    let port = free_port();
    let mut listener = inbound(port, app_port, service);
    shape(&mut listener);
    let mut callee_config = config(vec![listener], vec![], vec![]);
    callee_config.mesh = mesh.mesh.clone();
    callee_config.service = service.into();
    callee_config.dataplane = format!("{service}-1");
    callee_config.mtls = mode;
    let (proxy, telemetry) = self::proxy();
    mesh.certify(&proxy, service);
    proxy
        .apply(1, callee_config)
        .await
        .expect("the callee's config applies");
    (proxy, telemetry, port)
}
