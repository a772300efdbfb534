//! System prerequisites: Postgres server binaries, Chromium and chromedriver, promtool, a wasm32
//! toolchain, and the wasm-bindgen CLI matching the console's pinned version.
//! As root on Debian they are installed with apt (and cargo install); otherwise the exact
//! command to run is printed.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};

/// Must equal the `wasm-bindgen` version pinned in frontend/Cargo.toml.
pub const WASM_BINDGEN_VERSION: &str = "0.2.130";

/// How the console's wasm gets built.
#[derive(Clone, Debug)]
pub enum WasmToolchain {
    /// rustup with the wasm32-unknown-unknown target: plain cargo.
    Rustup,
    /// Debian's rustc-web builds std for wasm32 itself (-Zbuild-std).
    Debian { cargo: PathBuf, rustc: PathBuf },
}

#[derive(Clone, Debug)]
pub struct Tools {
    pub postgres_bin: PathBuf,
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
    pub promtool: PathBuf,
    pub wasm: WasmToolchain,
    pub wasm_bindgen: PathBuf,
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn is_debian() -> bool {
    Path::new("/etc/debian_version").exists()
}

pub fn apt_install(packages: &[&str]) -> anyhow::Result<()> {
    let command = format!("apt-get install -y {}", packages.join(" "));
    if !(is_root() && is_debian()) {
        bail!(
            "missing system packages; install them with:\n    sudo apt-get update && sudo {command}"
        );
    }
    eprintln!("xtask: installing {}", packages.join(" "));
    crate::run_command(Command::new("apt-get").args(["update", "-qq"]))?;
    crate::run_command(
        Command::new("apt-get")
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(packages),
    )
}

fn postgres_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| entry.ok().map(|e| e.path().join("bin")))
        .filter(|bin| bin.join("initdb").is_file() && bin.join("pg_ctl").is_file())
        .collect();
    found.sort();
    found.pop()
}

pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|path| path.is_file())
    })
}

fn rustup_has_wasm() -> bool {
    let installed = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output();
    if installed
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("wasm32-unknown-unknown"))
    {
        return true;
    }
    // Try to add it; offline machines cannot, and then Debian's toolchain is used.
    Command::new("rustup")
        .args(["target", "add", "wasm32-unknown-unknown"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|status| status.success())
}

fn debian_wasm_toolchain() -> Option<WasmToolchain> {
    let cargo = PathBuf::from("/usr/bin/cargo");
    let rustc = PathBuf::from("/usr/bin/rustc");
    let library = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| {
            PathBuf::from(String::from_utf8_lossy(&o.stdout).trim())
                .join("lib/rustlib/src/rust/library")
        })?;
    let lld = which("rust-lld").or_else(|| which("lld")).is_some()
        || Path::new("/usr/bin/lld-22").exists();
    (cargo.is_file() && rustc.is_file() && library.is_dir() && lld)
        .then_some(WasmToolchain::Debian { cargo, rustc })
}

fn wasm_bindgen() -> Option<PathBuf> {
    // Where `cargo install` puts it first, so a wrong version earlier on PATH does not win.
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cargo")));
    let path = cargo_home
        .map(|home| home.join("bin/wasm-bindgen"))
        .filter(|path| path.is_file())
        .or_else(|| which("wasm-bindgen"))?;
    let output = Command::new(&path).arg("--version").output().ok()?;
    String::from_utf8_lossy(&output.stdout)
        .contains(WASM_BINDGEN_VERSION)
        .then_some(path)
}

/// What building the console needs.
#[derive(Clone, Debug)]
pub struct ConsoleTools {
    pub wasm: WasmToolchain,
    pub wasm_bindgen: PathBuf,
}

/// The console's prerequisites only (the demo needs nothing else).
pub fn ensure_console() -> anyhow::Result<ConsoleTools> {
    ensure_packages(false)
}

/// Every prerequisite of `cargo xtask test`.
pub fn ensure() -> anyhow::Result<Tools> {
    let console = ensure_packages(true)?;
    Ok(Tools {
        postgres_bin: postgres_bin()
            .context("Postgres server binaries still missing after installation")?,
        chromium: PathBuf::from("/usr/bin/chromium"),
        chromedriver: PathBuf::from("/usr/bin/chromedriver"),
        promtool: which("promtool").context("promtool still missing after installation")?,
        wasm: console.wasm,
        wasm_bindgen: console.wasm_bindgen,
    })
}

/// Installs what is missing (when possible) and returns the console toolchain.
fn ensure_packages(for_tests: bool) -> anyhow::Result<ConsoleTools> {
    let mut missing: Vec<&str> = Vec::new();
    if for_tests {
        if postgres_bin().is_none() {
            missing.push("postgresql");
        }
        if !Path::new("/usr/bin/chromium").is_file() {
            missing.push("chromium");
        }
        if !Path::new("/usr/bin/chromedriver").is_file() {
            missing.push("chromium-driver");
        }
        // promtool checks every binary's /metrics.
        if which("promtool").is_none() {
            missing.push("prometheus");
        }
    }
    // WEFT_WASM_TOOLCHAIN=debian forces Debian's route (to test it where rustup has the target).
    let forced = std::env::var("WEFT_WASM_TOOLCHAIN").unwrap_or_default();
    let rustup_wasm = match forced.as_str() {
        "debian" => false,
        "rustup" | "" => rustup_has_wasm(),
        other => bail!("WEFT_WASM_TOOLCHAIN must be rustup or debian, not {other:?}"),
    };
    if !rustup_wasm && debian_wasm_toolchain().is_none() {
        missing.extend(["rustc-web", "cargo-web", "rust-web-src", "lld-22"]);
    }
    if !missing.is_empty() {
        apt_install(&missing)?;
    }
    if wasm_bindgen().is_none() {
        eprintln!(
            "xtask: installing wasm-bindgen-cli {WASM_BINDGEN_VERSION} (about two minutes, once)"
        );
        crate::run_command(crate::cargo().args([
            "install",
            "wasm-bindgen-cli",
            "--version",
            &format!("={WASM_BINDGEN_VERSION}"),
        ]))?;
    }
    let wasm = if rustup_wasm {
        WasmToolchain::Rustup
    } else {
        debian_wasm_toolchain().context("no wasm32 toolchain: rustup cannot add wasm32-unknown-unknown and Debian's rustc-web is incomplete")?
    };
    Ok(ConsoleTools {
        wasm,
        wasm_bindgen: wasm_bindgen()
            .context("wasm-bindgen CLI still missing after installation")?,
    })
}
