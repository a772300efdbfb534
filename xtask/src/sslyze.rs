//! `cargo xtask sslyze` (not in CI): scans the TLS of a running shop in a strict mesh with
//! sslyze (from PyPI, in a virtualenv under target/): a proxy's inbound mTLS port, and the gRPC
//! ports of global and a zone. Fails unless the proxy accepts TLS 1.3 and nothing older, and
//! writes the results between the markers in docs/security.md.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use serde_json::Value;
use weft_e2e::shop::{MESH_MANIFEST, Shop, ShopOptions};

use crate::{root, run_command};

const SSLYZE: &str = "sslyze>=6,<7";
const BEGIN: &str = "<!-- sslyze:begin (cargo xtask sslyze writes this part) -->";
const END: &str = "<!-- sslyze:end -->";
/// (JSON key of the result, sslyze flag, label).
const PROTOCOLS: [(&str, &str, &str); 6] = [
    ("ssl_2_0_cipher_suites", "--sslv2", "SSL 2.0"),
    ("ssl_3_0_cipher_suites", "--sslv3", "SSL 3.0"),
    ("tls_1_0_cipher_suites", "--tlsv1", "TLS 1.0"),
    ("tls_1_1_cipher_suites", "--tlsv1_1", "TLS 1.1"),
    ("tls_1_2_cipher_suites", "--tlsv1_2", "TLS 1.2"),
    ("tls_1_3_cipher_suites", "--tlsv1_3", "TLS 1.3"),
];

/// sslyze in its own virtualenv: (the sslyze executable, its version).
fn ensure_sslyze() -> anyhow::Result<(PathBuf, String)> {
    let (bin, version) = crate::pytools::venv("sslyze-venv", SSLYZE, "sslyze")?;
    Ok((bin.join("sslyze"), version))
}

/// Accepted cipher suites per protocol of one scanned server, and whether it asked for a
/// client certificate.
struct Scan {
    accepted: Vec<(&'static str, Vec<String>)>,
    client_auth: String,
}

fn scan(sslyze: &Path, port: u16, out: &Path) -> anyhow::Result<Scan> {
    let target = format!("127.0.0.1:{port}");
    let commands = PROTOCOLS.iter().map(|(_, flag, _)| *flag);
    run_command(
        Command::new(sslyze)
            .args(["--quiet", "--mozilla_config=disable"])
            .arg(format!("--json_out={}", out.display()))
            .args(commands)
            .arg(&target),
    )?;
    let report: Value = serde_json::from_str(&std::fs::read_to_string(out)?)
        .with_context(|| format!("{} is not sslyze JSON", out.display()))?;
    let result = &report["server_scan_results"][0];
    if result["scan_status"] != "COMPLETED" {
        bail!(
            "sslyze could not scan {target}: {}",
            result["connectivity_error_trace"]
        );
    }
    let scans = &result["scan_result"];
    let accepted = PROTOCOLS
        .iter()
        .map(|(key, _, label)| {
            let suites = scans[*key]["result"]["accepted_cipher_suites"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|suite| suite["cipher_suite"]["name"].as_str().map(str::to_string))
                .collect();
            (*label, suites)
        })
        .collect();
    let client_auth = result["connectivity_result"]["client_auth_requirement"]
        .as_str()
        .unwrap_or("unknown")
        .to_string();
    Ok(Scan {
        accepted,
        client_auth,
    })
}

fn row(what: &str, scan: &Scan) -> String {
    let protocols: Vec<&str> = scan
        .accepted
        .iter()
        .filter(|(_, suites)| !suites.is_empty())
        .map(|(label, _)| *label)
        .collect();
    let suites: Vec<String> = scan
        .accepted
        .iter()
        .flat_map(|(_, suites)| suites.iter().map(|suite| format!("`{suite}`")))
        .collect();
    format!(
        "| {what} | {} | {} | {} |\n",
        protocols.join(", "),
        suites.join(", "),
        scan.client_auth.to_lowercase()
    )
}

pub fn run() -> anyhow::Result<()> {
    let (sslyze, version) = ensure_sslyze()?;
    run_command(crate::cargo().args(["build", "--workspace", "--bins"]))?;
    weft_e2e::process::set_binaries_dir(root().join("target/debug"));
    let work = tempfile::tempdir()?;
    let shop = Shop::start(ShopOptions {
        work_dir: work.path().to_path_buf(),
        admin_password: "sslyze-admin-password".into(),
        mesh_manifest: Some(MESH_MANIFEST.replace("permissive", "strict")),
        ..ShopOptions::default()
    });
    let catalog = shop.instance("catalog-v1-east");
    catalog.wait_for_config("the strict mesh", |config| {
        config["config"]["mtls"] == "strict"
    });
    let out = work.path().join("sslyze.json");
    let proxy = scan(&sslyze, catalog.spec.inbound_port, &out)?;
    let global = scan(&sslyze, shop.global.grpc_port, &out)?;
    let zone = scan(&sslyze, shop.zones[0].grpc_port, &out)?;
    drop(shop);

    let old: Vec<&str> = proxy
        .accepted
        .iter()
        .filter(|(label, suites)| *label != "TLS 1.3" && !suites.is_empty())
        .map(|(label, _)| *label)
        .collect();
    let tls13 = proxy
        .accepted
        .iter()
        .any(|(label, suites)| *label == "TLS 1.3" && !suites.is_empty());
    let report = format!(
        "Scanned by `cargo xtask sslyze` with sslyze {version} on {}:\n\n\
         | port | protocols accepted | cipher suites | client certificate |\n|---|---|---|---|\n{}{}{}",
        crate::bench::today(),
        row("proxy inbound (strict mTLS mesh)", &proxy),
        row("global gRPC (5685)", &global),
        row("zone gRPC (5678)", &zone),
    );
    let doc_path = root().join("docs/security.md");
    let doc = std::fs::read_to_string(&doc_path)?;
    std::fs::write(&doc_path, crate::pytools::splice(&doc, BEGIN, END, &report))?;
    println!("{report}");
    if !old.is_empty() || !tls13 {
        bail!(
            "the proxy's mTLS port must accept TLS 1.3 only; it accepted {old:?} (TLS 1.3: {tls13})"
        );
    }
    eprintln!("xtask: the proxy accepts TLS 1.3 only; docs/security.md updated");
    Ok(())
}
