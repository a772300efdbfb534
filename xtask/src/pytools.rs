//! Python tools from PyPI (sslyze, schemathesis), each in its own virtualenv under target/,
//! and the marked parts of docs/ that their runs write.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::prerequisites::{apt_install, which};
use crate::{root, run_command};

/// The virtualenv `target/<name>` with `requirement` installed: (its bin folder, the
/// installed version of `package`).
pub fn venv(name: &str, requirement: &str, package: &str) -> anyhow::Result<(PathBuf, String)> {
    if which("python3").is_none() {
        apt_install(&["python3", "python3-venv"])?;
    }
    let venv = root().join("target").join(name);
    let bin = venv.join("bin");
    if !bin.join(package).is_file() {
        let made = Command::new("python3")
            .args(["-m", "venv"])
            .arg(&venv)
            .status()
            .context("cannot run python3")?;
        if !made.success() {
            apt_install(&["python3-venv"])?;
            run_command(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
        }
        run_command(Command::new(bin.join("pip")).args(["install", "-q", requirement]))?;
    }
    let output = Command::new(bin.join("pip"))
        .args(["show", package])
        .output()
        .context("cannot run pip")?;
    let version = String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|line| line.strip_prefix("Version: ").map(str::to_string))
        .unwrap_or_else(|| "unknown".into());
    Ok((bin, version))
}

/// `existing` with the text between `begin` and `end` replaced by `report` (the markers
/// appended when missing).
pub fn splice(existing: &str, begin: &str, end: &str, report: &str) -> String {
    let block = format!("{begin}\n{report}{end}");
    match (existing.find(begin), existing.find(end)) {
        (Some(start), Some(stop)) if stop > start => {
            format!(
                "{}{block}{}",
                &existing[..start],
                &existing[stop + end.len()..]
            )
        }
        _ => format!("{}\n\n{block}\n", existing.trim_end()),
    }
}

/// axe-core, the accessibility rules engine the browser tests run on every console page, from
/// PyPI's `axe-core-python` (which ships `axe.min.js`); copied to `target/tools/axe.min.js`.
pub fn axe_core() -> anyhow::Result<PathBuf> {
    let script = root().join("target/tools/axe.min.js");
    if script.is_file() {
        return Ok(script);
    }
    eprintln!("xtask: fetching axe-core (accessibility checks of the console) from PyPI");
    let (bin, _) = venv("axe-venv", "pip", "pip")?;
    run_command(Command::new(bin.join("pip")).args(["install", "-q", "axe-core-python==0.1.0"]))?;
    let lib = root().join("target/axe-venv/lib");
    let found = std::fs::read_dir(&lib)
        .with_context(|| format!("cannot read {}", lib.display()))?
        .filter_map(Result::ok)
        .map(|entry| {
            entry
                .path()
                .join("site-packages/axe_core_python/axe.min.js")
        })
        .find(|path| path.is_file())
        .context("axe-core-python installed but axe.min.js not found in it")?;
    if let Some(dir) = script.parent() {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::copy(&found, &script)
        .with_context(|| format!("cannot copy {} to {}", found.display(), script.display()))?;
    Ok(script)
}
