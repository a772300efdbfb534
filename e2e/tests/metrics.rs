//! Every binary's `/metrics` passes `promtool check metrics` (naming conventions, units,
//! `_total` counters, well-formed histograms), after real traffic went through the shop.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use weft_e2e::api;
use weft_e2e::shop::{Ports, Shop, ShopOptions};

fn promtool() -> PathBuf {
    let path = PathBuf::from(std::env::var("WEFT_PROMTOOL").unwrap_or_else(|_| "promtool".into()));
    let found = Command::new(&path)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    assert!(
        found,
        "promtool not found ({}); `cargo xtask test` installs it (Debian package prometheus)",
        path.display()
    );
    path
}

fn check(promtool: &PathBuf, what: &str, url: &str) {
    let (status, text) = api::text(url).unwrap_or_else(|| panic!("{what} answers {url}"));
    assert_eq!(status, 200, "{what}: {text}");
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{what}: promtool check metrics failed:\n{}{}\n--- metrics ---\n{text}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
}

#[test]
fn every_binary_serves_metrics_promtool_accepts() {
    let promtool = promtool();
    let work = tempfile::tempdir().unwrap();
    let mut shop = Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        ports: Ports::Free,
        admin_password: "e2e-admin-password".into(),
        console_dir: None,
        load_rps: 0.0,
        canary_route: false,
        ..ShopOptions::default()
    });
    for _ in 0..20 {
        api::text(&shop.web().url()).expect("web answers");
    }
    check(
        &promtool,
        "weft-global",
        &format!("{}/metrics", shop.global.url()),
    );
    let zone = shop.zone("east").http_url();
    check(&promtool, "weft-zone", &format!("{zone}/metrics"));
    let web = shop.web().admin_url();
    check(&promtool, "weft-dp", &format!("{web}/metrics"));
    let (_, text) = api::text(&format!("{web}/metrics")).unwrap();
    assert!(
        text.contains("weft_dp_requests_total{direction=\"outbound\",source_service=\"web\""),
        "{text}"
    );
    shop.stop();
}
