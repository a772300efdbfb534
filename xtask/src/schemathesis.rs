//! `cargo xtask schemathesis` (not in CI): property-based fuzzing of the REST API from its own
//! OpenAPI document with schemathesis (PyPI, in a virtualenv under target/), once with a
//! platform admin's token and once with a tenant viewer's. Fails on any 5xx, any answer that
//! breaks the document, any invalid input accepted, or any route that ignores its token; writes
//! the summaries between the markers in docs/security.md.

use std::process::Command;

use anyhow::{Context, bail};
use weft_e2e::api::Api;
use weft_e2e::free_port;
use weft_e2e::topology::{Global, GlobalOptions};

use crate::root;

const SCHEMATHESIS: &str = "schemathesis>=4,<5";
const BEGIN: &str = "<!-- schemathesis:begin (cargo xtask schemathesis writes this part) -->";
const END: &str = "<!-- schemathesis:end -->";
const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
response_schema_conformance,negative_data_rejection,ignored_auth";
const PASSWORD: &str = "schemathesis-password";

#[derive(clap::Args)]
pub struct SchemathesisArgs {
    /// Test cases per operation and phase.
    #[arg(long, default_value_t = 25)]
    max_examples: u32,
}

/// The part of schemathesis's output worth keeping: from its summary on.
fn summary(output: &str) -> String {
    let lines: Vec<&str> = output.lines().collect();
    let start = lines
        .iter()
        .rposition(|line| line.contains("SUMMARY"))
        .unwrap_or(lines.len().saturating_sub(30));
    lines[start..]
        .iter()
        .map(|line| line.trim_end())
        .filter(|line| !line.is_empty() && !line.chars().all(|c| c == '=' || c == '_'))
        .collect::<Vec<_>>()
        .join("\n")
}

pub fn run(args: SchemathesisArgs) -> anyhow::Result<()> {
    let (bin, version) = crate::pytools::venv("schemathesis-venv", SCHEMATHESIS, "schemathesis")?;
    crate::run_command(crate::cargo().args(["build", "-p", "weft-global"]))?;
    let work = tempfile::tempdir()?;
    let global = Global::start(
        work.path(),
        GlobalOptions {
            http_port: free_port(),
            grpc_port: free_port(),
            admin_password: PASSWORD.into(),
            console_dir: None,
            database_url: None,
        },
    );
    let base = global.url();
    // A world to poke at: a tenant with a mesh and a viewer.
    let admin = global.api();
    admin.apply("/api/v1/tenants/shop-team", weft_e2e::shop::TENANT_MANIFEST);
    admin.apply("/api/v1/meshes/shop", weft_e2e::shop::MESH_MANIFEST);
    let (status, body) = admin.post_json(
        "/api/v1/users",
        serde_json::json!({"username": "viewer", "password": PASSWORD}),
    )?;
    anyhow::ensure!(status == 201, "creating the viewer: {status} {body}");
    let (status, body) = admin.put(
        "/api/v1/tenants/shop-team/members/viewer",
        &serde_json::json!({"role": "viewer"}).to_string(),
    )?;
    anyhow::ensure!(status == 200, "adding the viewer: {status} {body}");
    let viewer = Api::login(&base, "viewer", PASSWORD)?;

    let out = root().join("target/schemathesis");
    std::fs::create_dir_all(&out)?;
    let mut sections = Vec::new();
    let mut failed = Vec::new();
    // The viewer first: the admin's run changes the world (users, tenants) as it goes.
    for (who, token) in [
        ("tenant viewer", viewer.token().to_string()),
        ("platform admin", admin.token().to_string()),
    ] {
        eprintln!("xtask: schemathesis as {who}…");
        let started = std::time::Instant::now();
        let output = Command::new(bin.join("schemathesis"))
            // Its example cache goes under target/, not into the checkout.
            .current_dir(&out)
            .arg("run")
            .arg(format!("{base}/api/v1/openapi.json"))
            .args(["--checks", CHECKS])
            .args(["--phases", "examples,coverage,fuzzing"])
            .args(["--max-examples", &args.max_examples.to_string()])
            .args(["--seed", "1", "--workers", "1", "--no-color"])
            .args(["--request-timeout", "30"])
            // Operations that would take away the run's own credentials (found by schemathesis
            // itself: it reads user names from responses and changes their passwords).
            .args(["--exclude-path", "/api/v1/auth/logout"])
            .args(["--exclude-path", "/api/v1/users/{user}/password"])
            .args(["--exclude-path", "/api/v1/users/{user}"])
            .arg("--header")
            .arg(format!("Authorization: Bearer {token}"))
            .output()
            .context("cannot run schemathesis")?;
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let file = out.join(format!("{}.txt", who.replace(' ', "-")));
        std::fs::write(&file, &text)?;
        if !output.status.success() {
            failed.push(format!("{who} (see {})", file.display()));
        }
        sections.push(format!(
            "As a {who} ({} s, {}):\n\n```text\n{}\n```\n",
            started.elapsed().as_secs(),
            if output.status.success() {
                "passed"
            } else {
                "FAILED"
            },
            summary(&text)
        ));
    }
    let report = format!(
        "Run by `cargo xtask schemathesis` with schemathesis {version} on {}: checks `{CHECKS}`, \
         phases examples, coverage and fuzzing, {} cases per operation and phase, seed 1; every operation but logout, password changes and changes to users (`/api/v1/users/{{user}}`): they would revoke the run's own token (the authorization matrix test covers them).\n\n{}",
        crate::bench::today(),
        args.max_examples,
        sections.join("\n")
    );
    let doc_path = root().join("docs/security.md");
    let doc = std::fs::read_to_string(&doc_path)?;
    std::fs::write(&doc_path, crate::pytools::splice(&doc, BEGIN, END, &report))?;
    println!("{report}");
    if !failed.is_empty() {
        bail!("schemathesis found problems: {}", failed.join(", "));
    }
    eprintln!("xtask: schemathesis passed; docs/security.md updated");
    Ok(())
}
