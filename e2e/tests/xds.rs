//! Interop with gRPC's own xDS client: Python gRPC applications with `GRPC_XDS_BOOTSTRAP`
//! naming a real weft-zone call Weft-managed catalog endpoints (behind weft-dp) through
//! `xds:///catalog`, and follow TrafficRoute, Retry and Timeout policies with no sidecar.
//!
//! Needs a Python with `grpcio`, `grpcio-csds` and `xds-protos` in `WEFT_XDS_PYTHON`
//! (`cargo xtask interop` and `cargo xtask test` prepare one); without it the test says so and
//! passes without running.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};
use weft_e2e::process::{Process, binary};
use weft_e2e::topology::{Zone, one_zone};
use weft_e2e::{free_port, wait_until};

const MESH: &str = "shop";

fn python() -> Option<PathBuf> {
    std::env::var_os("WEFT_XDS_PYTHON").map(PathBuf::from)
}

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("xds").join(name)
}

/// A catalog server of `version` behind its weft-dp, registered in the zone.
struct Catalog {
    _app: Process,
    _proxy: Process,
}

fn catalog(work: &Path, python: &Path, zone: &Zone, token: &str, version: &str) -> Catalog {
    let app_port = free_port();
    let inbound_port = free_port();
    let name = format!("catalog-{version}");
    let app = Process::spawn(
        &format!("app-{name}"),
        python,
        &[
            script("catalog.py").display().to_string(),
            format!("--listen=127.0.0.1:{app_port}"),
            format!("--version={version}"),
        ],
        &[],
        work,
    );
    let manifest = work.join(format!("{name}.yaml"));
    std::fs::write(
        &manifest,
        format!(
            "apiVersion: weft.dev/v1alpha1\nkind: Dataplane\nmetadata: {{name: {name}, mesh: {MESH}}}\nspec:\n  networking:\n    address: 127.0.0.1\n    inbound: [{{port: {inbound_port}, servicePort: {app_port}, protocol: grpc, tags: {{service: catalog, version: {version}}}}}]\n"
        ),
    )
    .unwrap();
    let token_file = work.join(format!("{name}.token"));
    std::fs::write(&token_file, token).unwrap();
    let admin_port = free_port();
    let mut proxy = Process::spawn(
        &format!("dp-{name}"),
        &binary("weft-dp"),
        &[
            format!("--zone-address={}", zone.grpc_url()),
            format!("--zone-ca-file={}", zone.upstream().ca_file.display()),
            format!("--dataplane-file={}", manifest.display()),
            format!("--dataplane-token-file={}", token_file.display()),
            format!("--admin-address=127.0.0.1:{admin_port}"),
        ],
        &[],
        work,
    );
    wait_until(
        &format!("{name} to be ready"),
        Duration::from_secs(60),
        || {
            assert!(proxy.running(), "weft-dp exited:\n{}", proxy.log_tail(30));
            (weft_e2e::api::status(&format!("http://127.0.0.1:{admin_port}/readyz")) == Some(200))
                .then_some(())
        },
    );
    Catalog {
        _app: app,
        _proxy: proxy,
    }
}

/// The proxyless client: one JSON command in, one JSON answer out.
struct Client {
    log: PathBuf,
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Client {
    fn start(work: &Path, python: &Path, zone: &Zone, token: &str) -> Client {
        let bootstrap = work.join("bootstrap.json");
        let document = json!({
            "xds_servers": [{
                "server_uri": format!("127.0.0.1:{}", zone.grpc_port),
                "channel_creds": [{"type": "tls", "config": {
                    "ca_certificate_file": zone.upstream().ca_file,
                }}],
                "server_features": ["xds_v3"],
            }],
            "node": {
                "id": "search-1",
                "metadata": {
                    "weft.dev/mesh": MESH,
                    "weft.dev/service": "search",
                    "weft.dev/token": token,
                },
            },
        });
        std::fs::write(&bootstrap, document.to_string()).unwrap();
        let log_path = work.join("client.log");
        let log = std::fs::File::create(&log_path).unwrap();
        let mut child = Command::new(python)
            .arg(script("client.py"))
            .arg("--target=xds:///catalog")
            .arg(format!("--csds-port={}", free_port()))
            .env("GRPC_XDS_BOOTSTRAP", &bootstrap)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start the Python client");
        let input = child.stdin.take().unwrap();
        let output = BufReader::new(child.stdout.take().unwrap());
        let mut client = Client {
            log: log_path,
            child,
            input,
            output,
        };
        assert_eq!(client.read()["ready"], true);
        client
    }

    fn read(&mut self) -> Value {
        let mut line = String::new();
        self.output.read_line(&mut line).unwrap();
        serde_json::from_str(&line).unwrap_or_else(|_| {
            let log = std::fs::read_to_string(&self.log).unwrap_or_default();
            panic!("the client said {line:?}; its log:\n{log}")
        })
    }

    fn ask(&mut self, command: Value) -> Value {
        writeln!(self.input, "{command}").unwrap();
        self.read()
    }

    fn call(&mut self, method: &str, count: u32, timeout: f64) -> Value {
        self.ask(json!({"call": method, "count": count, "timeout": timeout}))
    }

    /// CSDS: every resource the client holds.
    fn resources(&mut self) -> Vec<Value> {
        self.ask(json!({"csds": true}))["resources"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Waits until the client holds an acknowledged RouteConfiguration containing `text`
    /// (or, without `present`, not containing it).
    fn wait_for_route(&mut self, what: &str, text: &str, present: bool) {
        wait_until(what, Duration::from_secs(30), || {
            self.resources()
                .iter()
                .any(|r| {
                    r["type"] == "RouteConfiguration"
                        && r["status"] == "ACKED"
                        && r["config"].as_str().unwrap_or_default().contains(text) == present
                })
                .then_some(())
        });
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(answer: &Value, section: &str, key: &str) -> u64 {
    answer[section][key].as_u64().unwrap_or(0)
}

#[test]
fn grpc_applications_follow_weft_policies_over_xds_without_a_sidecar() {
    let Some(python) = python() else {
        eprintln!("WEFT_XDS_PYTHON is not set: skipping (cargo xtask interop runs this test)");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let (global, mut zone) = one_zone(work.path(), MESH);
    let api = global.api();
    let catalog_token = api.dataplane_token(MESH, "catalog");
    let _v1 = catalog(work.path(), &python, &zone, &catalog_token, "v1");
    let _v2 = catalog(work.path(), &python, &zone, &catalog_token, "v2");
    let mut client = Client::start(
        work.path(),
        &python,
        &zone,
        &api.dataplane_token(MESH, "search"),
    );

    // Without policies, xds:///catalog reaches both versions through their proxies.
    let answer = client.call("Get", 40, 10.0);
    assert_eq!(count(&answer, "codes", "OK"), 40, "{answer}");
    assert!(
        count(&answer, "bodies", "v1") > 0 && count(&answer, "bodies", "v2") > 0,
        "{answer}"
    );

    // The client is registered as a proxyless Dataplane calling catalog.
    let (_, search) = api
        .get(&format!("/api/v1/meshes/{MESH}/dataplanes/search-1"))
        .unwrap();
    assert_eq!(search["spec"]["networking"]["proxyless"], true, "{search}");
    assert_eq!(
        search["spec"]["networking"]["outbound"][0]["service"],
        "catalog"
    );
    api.wait_for_dataplane_status(
        MESH,
        "search-1",
        "global to show the client connected",
        |status| status["connected"] == true && status["ackedVersion"].as_u64() > Some(0),
    );

    // CSDS shows every resource acknowledged.
    let resources = client.resources();
    for (kind, name) in [
        ("Listener", "catalog"),
        ("RouteConfiguration", "catalog"),
        ("Cluster", "catalog"),
        ("ClusterLoadAssignment", "catalog"),
    ] {
        assert!(
            resources
                .iter()
                .any(|r| r["type"] == kind && r["name"] == name && r["status"] == "ACKED"),
            "{kind} {name} is not ACKED: {resources:?}"
        );
    }

    // Its load reports (LRS) put it in global's graph: an edge from search to catalog.
    let edge = wait_until(
        "the client's calls in the graph",
        Duration::from_secs(30),
        || {
            let (_, graph) = api.get(&format!("/api/v1/meshes/{MESH}/graph")).ok()?;
            graph["edges"]
                .as_array()?
                .iter()
                .find(|edge| {
                    edge["source"]
                        .as_str()
                        .is_some_and(|s| s.starts_with("search"))
                        && edge["target"]
                            .as_str()
                            .is_some_and(|t| t.starts_with("catalog"))
                })
                .cloned()
        },
    );
    assert!(edge["requestsPerSecond"].as_f64() > Some(0.0), "{edge}");

    // An 80/20 TrafficRoute splits the client's calls.
    api.apply(
        &format!("/api/v1/meshes/{MESH}/trafficroutes/catalog-split"),
        &format!("apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {{name: catalog-split, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  to:\n    - targetRef: {{kind: Service, name: catalog}}\n      rules:\n        - backends: [{{service: catalog, tags: {{version: v1}}, weight: 80}}, {{service: catalog, tags: {{version: v2}}, weight: 20}}]\n"),
    );
    client.wait_for_route("the client to take the split", "catalog/version=v1", true);
    let answer = client.call("Get", 1000, 10.0);
    assert_eq!(count(&answer, "codes", "OK"), 1000, "{answer}");
    let v1 = count(&answer, "bodies", "v1");
    assert!((750..=850).contains(&v1), "80 ± 5 % to v1: {answer}");

    // A flaky server fails every other call; a Retry on `unavailable` hides it.
    let answer = client.call("Flaky", 20, 10.0);
    assert!(
        count(&answer, "codes", "UNAVAILABLE") >= 5,
        "failures without retries: {answer}"
    );
    api.apply(
        &format!("/api/v1/meshes/{MESH}/retrys/catalog-retry"),
        &format!("apiVersion: weft.dev/v1alpha1\nkind: Retry\nmetadata: {{name: catalog-retry, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  to:\n    - targetRef: {{kind: Service, name: catalog}}\n      default: {{attempts: 3, retryOn: [unavailable], backoff: {{base: 5ms, max: 20ms}}}}\n"),
    );
    client.wait_for_route("the client to take the retry", "unavailable", true);
    let answer = client.call("Flaky", 40, 10.0);
    assert_eq!(
        count(&answer, "codes", "OK"),
        40,
        "retries hide the flaky server: {answer}"
    );

    // A Timeout fails slow calls with DEADLINE_EXCEEDED.
    let answer = client.call("Slow", 1, 10.0);
    assert_eq!(count(&answer, "codes", "OK"), 1, "{answer}");
    api.apply(
        &format!("/api/v1/meshes/{MESH}/timeouts/catalog-timeout"),
        &format!("apiVersion: weft.dev/v1alpha1\nkind: Timeout\nmetadata: {{name: catalog-timeout, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  to:\n    - targetRef: {{kind: Service, name: catalog}}\n      default: {{request: 1500ms}}\n"),
    );
    client.wait_for_route("the client to take the timeout", "maxStreamDuration", true);
    let answer = client.call("Slow", 3, 10.0);
    assert_eq!(count(&answer, "codes", "DEADLINE_EXCEEDED"), 3, "{answer}");
    // Cut at the timeout, not after the server's three seconds. (grpcio 1.85 sometimes fails
    // such calls at once rather than after 1.5 s: docs/xds.md says more.)
    let seconds = answer["seconds"].as_f64().unwrap_or(f64::MAX);
    assert!(
        seconds < 8.7,
        "calls cut before the server answers: {answer}"
    );
    api.delete(&format!("/api/v1/meshes/{MESH}/timeouts/catalog-timeout"))
        .unwrap();
    client.wait_for_route("the client to drop the timeout", "maxStreamDuration", false);

    // A route gRPC cannot accept (RE2 has no `(?x)` verbose flag, Rust's regex has) is rejected by the
    // client: the NACK shows in the Dataplane's status through the API, with gRPC's reason.
    api.apply(
        &format!("/api/v1/meshes/{MESH}/trafficroutes/catalog-words"),
        &format!("apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {{name: catalog-words, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  to:\n    - targetRef: {{kind: Service, name: catalog}}\n      rules:\n        - matches: [{{headers: [{{name: x-word, regex: '(?x) g e t'}}]}}]\n          backends: [{{service: catalog, tags: {{version: v2}}}}]\n"),
    );
    let status = api.wait_for_dataplane_status(
        MESH,
        "search-1",
        "the rejection to show in the API",
        |status| {
            status["rejection"]
                .as_str()
                .is_some_and(|r| r.starts_with("RouteConfiguration"))
        },
    );
    assert!(
        status["rejection"]
            .as_str()
            .unwrap()
            .contains("Invalid regex"),
        "{status}"
    );
    assert!(
        status["ackedVersion"].as_u64() < status["configVersion"].as_u64(),
        "{status}"
    );
    // The client keeps its last good routes.
    let answer = client.call("Get", 20, 10.0);
    assert_eq!(count(&answer, "codes", "OK"), 20, "{answer}");
    api.delete(&format!(
        "/api/v1/meshes/{MESH}/trafficroutes/catalog-words"
    ))
    .unwrap();
    api.wait_for_dataplane_status(MESH, "search-1", "the rejection to clear", |status| {
        status["rejection"].is_null()
    });

    // The zone goes away: the client keeps calling on its last configuration.
    zone.process.kill();
    let answer = client.call("Get", 50, 10.0);
    assert_eq!(
        count(&answer, "codes", "OK"),
        50,
        "calls without the zone: {answer}"
    );
}
