//! The invariants of docs/ARCHITECTURE.md, checked against `cargo metadata`.

use anyhow::Context;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// Crates that do IO or bring an async runtime; `weft-model` must not reach any of them.
pub const IO_CRATES: [&str; 12] = [
    "tokio",
    "mio",
    "sqlx",
    "hyper",
    "tonic",
    "axum",
    "reqwest",
    "ureq",
    "socket2",
    "tower",
    "libsqlite3-sys",
    "web-sys",
];

/// Packages that build a binary; none may depend on another.
pub const BINARY_CRATES: [&str; 6] = [
    "weft-global",
    "weft-zone",
    "weft-dp",
    "weft-console",
    "weft-demo",
    "xtask",
];

pub struct Metadata {
    names: BTreeMap<String, String>,
    normal_deps: BTreeMap<String, Vec<String>>,
    packages: Vec<Value>,
}

impl Metadata {
    pub fn load() -> anyhow::Result<Metadata> {
        let output = crate::cargo()
            .args(["metadata", "--format-version", "1", "--locked"])
            .current_dir(crate::root())
            .output()
            .context("running cargo metadata")?;
        anyhow::ensure!(
            output.status.success(),
            "cargo metadata failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let value: Value = serde_json::from_slice(&output.stdout)?;
        let packages = value["packages"].as_array().cloned().unwrap_or_default();
        let names = packages
            .iter()
            .filter_map(|p| {
                Some((
                    p["id"].as_str()?.to_string(),
                    p["name"].as_str()?.to_string(),
                ))
            })
            .collect();
        let mut normal_deps = BTreeMap::new();
        for node in value["resolve"]["nodes"].as_array().into_iter().flatten() {
            let deps = node["deps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|dep| {
                    dep["dep_kinds"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .any(|kind| kind["kind"].is_null())
                })
                .filter_map(|dep| dep["pkg"].as_str().map(str::to_string))
                .collect();
            if let Some(id) = node["id"].as_str() {
                normal_deps.insert(id.to_string(), deps);
            }
        }
        Ok(Metadata {
            names,
            normal_deps,
            packages,
        })
    }

    fn id(&self, name: &str) -> Option<&String> {
        let ids: Vec<&String> = self
            .names
            .iter()
            .filter(|(_, n)| *n == name)
            .map(|(id, _)| id)
            .collect();
        ids.into_iter().find(|id| id.contains("file://"))
    }

    /// Names of every package `name` reaches through normal (non-dev, non-build) dependencies.
    pub fn normal_closure(&self, name: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut stack: Vec<String> = self.id(name).cloned().into_iter().collect();
        while let Some(id) = stack.pop() {
            for dep in self.normal_deps.get(&id).into_iter().flatten() {
                if seen.insert(dep.clone()) {
                    stack.push(dep.clone());
                }
            }
        }
        seen.iter()
            .filter_map(|id| self.names.get(id).cloned())
            .collect()
    }

    /// Names of every package a build of `package` alone (for `target`, if given) compiles as a
    /// normal dependency; unlike the workspace-wide metadata, features resolve for that build only.
    pub fn built_with(package: &str, target: Option<&str>) -> anyhow::Result<BTreeSet<String>> {
        Ok(cargo_tree(package, target, "{p}")?
            .lines()
            .filter_map(|line| line.split_whitespace().next().map(str::to_string))
            .collect())
    }

    /// The declared dependency `dependency` of workspace package `package`.
    pub fn declared(&self, package: &str, dependency: &str) -> Option<Value> {
        let package = self
            .packages
            .iter()
            .find(|p| p["name"] == package && p["source"].is_null())?;
        package["dependencies"]
            .as_array()?
            .iter()
            .find(|d| d["name"] == dependency)
            .cloned()
    }
}

/// `weft-model` reaches no IO crate.
pub fn check_model_is_pure() -> anyhow::Result<()> {
    let closure = Metadata::built_with("weft-model", None)?;
    anyhow::ensure!(
        closure.contains("serde"),
        "cargo tree output was not understood: {closure:?}"
    );
    let offending: Vec<&str> = IO_CRATES
        .iter()
        .copied()
        .filter(|name| closure.contains(*name))
        .collect();
    anyhow::ensure!(
        offending.is_empty(),
        "weft-model must stay pure but depends on {offending:?}"
    );
    Ok(())
}

/// No binary crate depends on another binary crate.
pub fn check_binaries_are_independent() -> anyhow::Result<()> {
    let metadata = Metadata::load()?;
    for binary in BINARY_CRATES {
        let closure = metadata.normal_closure(binary);
        let others: Vec<&str> = BINARY_CRATES
            .iter()
            .copied()
            .filter(|other| closure.contains(*other))
            .collect();
        anyhow::ensure!(
            others.is_empty(),
            "{binary} depends on binary crates {others:?}"
        );
    }
    Ok(())
}

/// The console uses `weft-api` without `grpc`, so no tonic, tokio, prost or hyper reach the wasm.
pub fn check_console_has_no_grpc() -> anyhow::Result<()> {
    let metadata = Metadata::load()?;
    let api = metadata
        .declared("weft-console", "weft-api")
        .context("the console does not use weft-api")?;
    anyhow::ensure!(
        api["uses_default_features"] == false,
        "the console must use weft-api with default-features = false"
    );
    anyhow::ensure!(
        api["features"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|feature| feature != "grpc"),
        "the console must not enable weft-api's grpc feature"
    );
    let closure = Metadata::built_with("weft-console", Some("wasm32-unknown-unknown"))?;
    anyhow::ensure!(
        closure.contains("weft-api"),
        "cargo tree output was not understood"
    );
    let offending: Vec<&str> = ["tonic", "tokio", "prost", "hyper"]
        .into_iter()
        .filter(|name| closure.contains(*name))
        .collect();
    anyhow::ensure!(
        offending.is_empty(),
        "the console must not compile {offending:?}"
    );
    Ok(())
}

/// `cargo tree` of `package` alone (for `target`), normal dependencies, one `format` line each.
fn cargo_tree(package: &str, target: Option<&str>, format: &str) -> anyhow::Result<String> {
    let mut command = crate::cargo();
    command.args([
        "tree", "--locked", "-p", package, "-e", "normal", "--prefix", "none", "--format", format,
    ]);
    if let Some(target) = target {
        command.args(["--target", target]);
    }
    let output = command
        .current_dir(crate::root())
        .output()
        .context("running cargo tree")?;
    anyhow::ensure!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The features `weft-model` is built with when `package` alone is built (for `target`).
fn model_features(package: &str, target: Option<&str>) -> anyhow::Result<BTreeSet<String>> {
    let text = cargo_tree(package, target, "{p} {f}")?;
    let line = text
        .lines()
        .find(|line| line.starts_with("weft-model "))
        .with_context(|| format!("{package} is not built with weft-model"))?;
    Ok(line
        .split_whitespace()
        .last()
        .unwrap_or_default()
        .split(',')
        .map(str::to_string)
        .collect())
}

/// Every server binary checks patterns by compiling them as the proxy does; the console
/// checks syntax only, so the regex programs and Unicode tables stay out of its download.
pub fn check_servers_compile_regex_programs() -> anyhow::Result<()> {
    for package in ["weft-global", "weft-zone", "weft-dp", "weftctl"] {
        anyhow::ensure!(
            model_features(package, None)?.contains("regex-programs"),
            "{package} must use weft-model with the regex-programs feature"
        );
    }
    anyhow::ensure!(
        !model_features("weft-console", Some("wasm32-unknown-unknown"))?.contains("regex-programs"),
        "the console must use weft-model without regex-programs"
    );
    Ok(())
}

/// The proxy decides nothing on the `x-weft-source` header: it is named in one place, only set
/// (by outbound proxies), removed (by inbounds) and checked for presence by telemetry; nothing
/// reads its value. Callers are who their certificate says.
pub fn check_proxy_trusts_no_source_header() -> anyhow::Result<()> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../dataplane/src");
    let mut files = vec![root];
    let mut offending = Vec::new();
    while let Some(path) = files.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                files.push(entry?.path());
            }
            continue;
        }
        if path.extension().is_none_or(|ext| ext != "rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let defines = path.ends_with("policy/telemetry.rs");
        for (number, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            let named = code.contains("\"x-weft-source\"") && !defines;
            let read = code.contains("get(SOURCE_HEADER") || code.contains("get_all(SOURCE_HEADER");
            if named || read {
                offending.push(format!("{}:{}", path.display(), number + 1));
            }
        }
    }
    anyhow::ensure!(
        offending.is_empty(),
        "the proxy must not read x-weft-source (use crate::source::verified): {offending:?}"
    );
    Ok(())
}

/// The `.rs` files under the workspace's product source folders (tests excluded).
fn product_sources() -> anyhow::Result<Vec<std::path::PathBuf>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut pending: Vec<std::path::PathBuf> = [
        "crates/model/src",
        "crates/api/src",
        "crates/runtime/src",
        "crates/identity/src",
        "backend/src",
        "zone-cp/src",
        "dataplane/src",
        "frontend/src",
    ]
    .iter()
    .map(|folder| root.join(folder))
    .collect();
    let mut files = Vec::new();
    while let Some(path) = pending.pop() {
        if path.is_dir() {
            for entry in std::fs::read_dir(&path)? {
                pending.push(entry?.path());
            }
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    Ok(files)
}

/// A kind is listed once: `crates/model/src/kind.rs` generates `Kind` and `Spec` from one list,
/// and no other source file names most of the kinds (a file that did would be a second list to
/// keep in step). Files naming the policies they turn into configuration fields stay well under
/// the bound.
pub fn check_kinds_are_listed_once() -> anyhow::Result<()> {
    const KINDS: &[&str] = &[
        "Tenant",
        "Mesh",
        "Zone",
        "Dataplane",
        "TrafficRoute",
        "TrafficPermission",
        "Timeout",
        "Retry",
        "CircuitBreaker",
        "HealthCheck",
        "RateLimit",
        "FaultInjection",
        "LoadBalancing",
        "AccessLog",
        "Trace",
        "Rollout",
    ];
    let mut offending = Vec::new();
    for path in product_sources()? {
        if path.ends_with("crates/model/src/kind.rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path)?;
        let named = KINDS
            .iter()
            .filter(|kind| {
                text.contains(&format!("Kind::{kind}")) || text.contains(&format!("Spec::{kind}("))
            })
            .count();
        if named > KINDS.len() / 2 {
            offending.push(format!("{} names {named} kinds", path.display()));
        }
    }
    anyhow::ensure!(
        offending.is_empty(),
        "kinds are listed once, in crates/model/src/kind.rs: {offending:?}"
    );
    Ok(())
}

/// Every invariant of docs/ARCHITECTURE.md that the dependency graph can show.
pub fn check() -> anyhow::Result<()> {
    check_model_is_pure()?;
    check_binaries_are_independent()?;
    check_console_has_no_grpc()?;
    check_servers_compile_regex_programs()?;
    check_proxy_trusts_no_source_header()?;
    check_kinds_are_listed_once()?;
    eprintln!("xtask: architecture invariants hold");
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_does_no_io() {
        super::check_model_is_pure().unwrap();
    }

    #[test]
    fn binaries_do_not_depend_on_each_other() {
        super::check_binaries_are_independent().unwrap();
    }

    #[test]
    fn console_uses_api_without_grpc() {
        super::check_console_has_no_grpc().unwrap();
    }

    #[test]
    fn servers_compile_regex_programs() {
        super::check_servers_compile_regex_programs().unwrap();
    }

    #[test]
    fn kinds_are_listed_once() {
        super::check_kinds_are_listed_once().unwrap();
    }

    #[test]
    fn proxy_trusts_no_source_header() {
        super::check_proxy_trusts_no_source_header().unwrap();
    }
}
