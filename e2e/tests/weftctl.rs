//! weftctl against a real weft-global: log in, apply a directory, read back as YAML and apply
//! again (nothing changes), inspect a proxy, clear errors with exit codes, and an API token
//! that revokes itself and then fails cleanly.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use weft_e2e::process::binary;
use weft_e2e::shop::{Ports, Shop, ShopOptions};

const PASSWORD: &str = "weftctl-test-password";

/// Runs weftctl with `args` and `stdin`: exit code, stdout, stderr.
fn weftctl(home: &Path, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(binary("weftctl"))
        .args(args)
        .env("WEFT_CONFIG", home.join("config.yaml"))
        .env_remove("WEFT_CONTEXT")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("weftctl runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// Runs weftctl and expects success: stdout.
fn ok(home: &Path, args: &[&str], stdin: &str) -> String {
    let (code, out, err) = weftctl(home, args, stdin);
    assert_eq!(code, 0, "weftctl {args:?}: {out}{err}");
    out
}

const TIMEOUT: &str = "apiVersion: weft.dev/v1alpha1
kind: Timeout
metadata: {name: cli-timeouts, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Service, name: catalog}, default: {request: 7s}}]
";

const RETRY: &str = "apiVersion: weft.dev/v1alpha1
kind: Retry
metadata: {name: cli-retries, mesh: shop}
spec:
  targetRef: {kind: Mesh}
  to: [{targetRef: {kind: Service, name: catalog}, default: {attempts: 2}}]
";

#[test]
fn weftctl_logs_in_applies_reads_inspects_and_revokes() {
    let work = tempfile::tempdir().unwrap();
    let shop = Shop::start(ShopOptions {
        work_dir: work.path().join("shop"),
        ports: Ports::Free,
        admin_password: PASSWORD.into(),
        ..ShopOptions::default()
    });
    let home = work.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let server = shop.global.url();

    // Not logged in yet: a clear message and exit code 2.
    let (code, _, err) = weftctl(&home, &["get", "meshes"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("weftctl login"), "{err}");
    // A wrong password: the server's message, exit 4.
    let (code, _, err) = weftctl(
        &home,
        &["login", "--server", &server, "--password-stdin"],
        "wrong-password\n",
    );
    assert_eq!(code, 4, "{err}");
    assert!(err.contains("wrong username or password"), "{err}");
    let out = ok(
        &home,
        &["login", "--server", &server, "--password-stdin"],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.contains("logged in as admin"), "{out}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(home.join("config.yaml"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "the config holds tokens");
    }

    // Apply a directory, all or nothing.
    let manifests = work.path().join("manifests");
    std::fs::create_dir_all(manifests.join("more")).unwrap();
    std::fs::write(manifests.join("timeouts.yaml"), TIMEOUT).unwrap();
    std::fs::write(manifests.join("more/retries.yml"), RETRY).unwrap();
    let out = ok(
        &home,
        &["apply", "-f", &manifests.display().to_string()],
        "",
    );
    assert!(
        out.contains("Timeout/cli-timeouts (mesh shop) created"),
        "{out}"
    );
    assert!(
        out.contains("Retry/cli-retries (mesh shop) created"),
        "{out}"
    );
    let out = ok(&home, &["get", "timeouts", "-m", "shop"], "");
    assert!(out.starts_with("NAME"), "{out}");
    assert!(out.contains("cli-timeouts"), "{out}");
    // Label selectors go to the server (the shop mesh has the label team=shop).
    let out = ok(&home, &["get", "meshes", "-l", "team in (shop,other)"], "");
    assert!(out.contains("shop"), "{out}");
    let out = ok(&home, &["get", "meshes", "-l", "team=nobody"], "");
    assert_eq!(out.lines().count(), 1, "only the header: {out}");
    let (code, _, err) = weftctl(&home, &["get", "meshes", "-l", "team in (shop"], "");
    assert_ne!(code, 0);
    assert!(err.contains("labelSelector"), "{err}");

    // What get prints as YAML applies again without changing anything.
    let yaml = ok(
        &home,
        &["get", "timeout", "cli-timeouts", "-m", "shop", "-o", "yaml"],
        "",
    );
    let read_back = work.path().join("read-back.yaml");
    std::fs::write(&read_back, &yaml).unwrap();
    let out = ok(
        &home,
        &["apply", "-f", &read_back.display().to_string()],
        "",
    );
    assert!(
        out.contains("cli-timeouts (mesh shop) unchanged"),
        "{yaml}\n{out}"
    );
    let all = ok(&home, &["get", "timeouts", "-m", "shop", "-o", "yaml"], "");
    let out = ok(&home, &["apply", "-f", "-"], &all);
    assert!(
        out.contains("unchanged") && !out.contains("configured"),
        "{out}"
    );

    // An invalid manifest names its field, exits 2 and stores nothing.
    let broken = work.path().join("broken.yaml");
    std::fs::write(
        &broken,
        format!(
            "{RETRY}---\n{}",
            TIMEOUT
                .replace("cli-timeouts", "cli-broken")
                .replace("7s", "soon")
        ),
    )
    .unwrap();
    let (code, _, err) = weftctl(&home, &["apply", "-f", &broken.display().to_string()], "");
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("documents[1].spec.to[0].default.request"),
        "{err}"
    );
    let (code, _, err) = weftctl(&home, &["get", "timeout", "cli-broken", "-m", "shop"], "");
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("not found"), "{err}");

    // Inspect a proxy: the policies that apply and the config it gets.
    let out = ok(
        &home,
        &["inspect", "dataplane", "web-east", "-m", "shop"],
        "",
    );
    assert!(
        out.contains("Timeout") && out.contains("cli-timeouts"),
        "{out}"
    );
    assert!(out.contains("Config:"), "{out}");

    // A canary rollout, driven from the command line.
    let rollout = "apiVersion: weft.dev/v1alpha1\nkind: Rollout\nmetadata: {name: cli-canary, mesh: shop}\nspec:\n  service: orders\n  stable: {tags: {version: v1}}\n  canary: {tags: {version: v2}}\n  steps: [10, 100]\n  interval: 1m\n";
    ok(&home, &["apply", "-f", "-"], rollout);
    let out = ok(&home, &["rollout", "pause", "cli-canary", "-m", "shop"], "");
    assert!(out.contains("Paused"), "{out}");
    let out = ok(
        &home,
        &["rollout", "status", "cli-canary", "-m", "shop"],
        "",
    );
    assert!(
        out.contains("phase:   Paused") && out.contains("paused:  by admin"),
        "{out}"
    );
    assert!(
        out.contains("DECISION") && out.contains("paused by admin"),
        "{out}"
    );
    let out = ok(&home, &["rollout", "abort", "cli-canary", "-m", "shop"], "");
    assert!(out.contains("Aborted (canary at 0 %)"), "{out}");
    let (code, _, err) = weftctl(
        &home,
        &["rollout", "promote", "cli-canary", "-m", "shop"],
        "",
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.contains("cannot promote a rollout that is Aborted"),
        "{err}"
    );

    // An API token for automation, narrowed to viewing: it reads, it cannot write, and once
    // it revokes itself it fails with a clear message.
    let (code, token, err) = weftctl(&home, &["tokens", "create", "ci", "--role", "viewer"], "");
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_string();
    ok(
        &home,
        &[
            "login",
            "--server",
            &server,
            "--token-stdin",
            "--name",
            "ci",
        ],
        &format!("{token}\n"),
    );
    ok(&home, &["get", "meshes"], "");
    let (code, _, err) = weftctl(
        &home,
        &["delete", "timeout", "cli-timeouts", "-m", "shop"],
        "",
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("(403)"), "{err}");
    let listed = ok(&home, &["tokens", "list", "-o", "json"], "");
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    let id = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["name"] == "ci")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    ok(&home, &["tokens", "revoke", &id], "");
    let (code, _, err) = weftctl(&home, &["get", "meshes"], "");
    assert_eq!(code, 4, "{err}");
    assert!(
        err.contains("revoked") && err.contains("weftctl login"),
        "{err}"
    );

    // Back to the admin's context; completions for the shell.
    let contexts = ok(&home, &["config", "get-contexts"], "");
    let admin_context = contexts
        .lines()
        .skip(1)
        .map(|line| {
            line.trim_start_matches('*')
                .split_whitespace()
                .next()
                .unwrap_or("")
        })
        .find(|name| *name != "ci")
        .unwrap()
        .to_string();
    ok(&home, &["config", "use-context", &admin_context], "");
    let out = ok(&home, &["whoami"], "");
    assert!(out.contains("admin (platform admin)"), "{out}");
    let out = ok(&home, &["completion", "bash"], "");
    assert!(out.contains("weftctl"), "{out}");

    // Tokens for a zone and for a service's proxies: the secret on stdout, once; global lists
    // what it issued.
    let zone_token = ok(&home, &["generate", "zone-token", "--zone", "north"], "");
    assert_eq!(
        zone_token.trim().split('.').count(),
        3,
        "a JWT: {zone_token}"
    );
    let dataplane_token = ok(
        &home,
        &[
            "generate",
            "dataplane-token",
            "-m",
            "shop",
            "--service",
            "web",
            "--tag",
            "version=v1",
            "--valid-for",
            "24h",
        ],
        "",
    );
    assert_eq!(dataplane_token.trim().split('.').count(), 3);
    let api = shop.global.api();
    let (_, zones) = api.get("/api/v1/zones/north/tokens").unwrap();
    assert_eq!(zones["items"].as_array().map(Vec::len), Some(1), "{zones}");
    let (_, dataplanes) = api.get("/api/v1/meshes/shop/dataplane-tokens").unwrap();
    assert!(
        dataplanes["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|token| token["subject"] == "web" && token["tags"]["version"] == "v1"),
        "{dataplanes}"
    );
    let (code, _, err) = weftctl(&home, &["generate", "zone-token", "--zone", "../x"], "");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--zone"), "{err}");
    let (code, _, err) = weftctl(
        &home,
        &[
            "generate",
            "dataplane-token",
            "-m",
            "shop",
            "--service",
            "web",
            "--tag",
            "v1",
        ],
        "",
    );
    assert_ne!(code, 0);
    assert!(err.contains("name=value"), "{err}");
}
