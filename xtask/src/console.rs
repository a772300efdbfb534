//! Builds the console: wasm32 compile, wasm-bindgen, static files, into target/console.

use std::path::PathBuf;
use std::process::Command;

use anyhow::Context;

use crate::prerequisites::{ConsoleTools, WasmToolchain};
use crate::{root, run_command};

pub fn output_dir() -> PathBuf {
    root().join("target/console")
}

pub fn build(tools: &ConsoleTools) -> anyhow::Result<PathBuf> {
    let root = root();
    // A target directory per toolchain: two rustc versions must never share build artifacts.
    let target_dir = root.join(match tools.wasm {
        WasmToolchain::Rustup => "target/wasm-rustup",
        WasmToolchain::Debian { .. } => "target/wasm-debian",
    });
    let mut command = match &tools.wasm {
        WasmToolchain::Rustup => crate::cargo(),
        WasmToolchain::Debian { cargo, rustc } => {
            let mut command = Command::new(cargo);
            // rustup's variables must not leak into Debian's toolchain.
            command
                .env("RUSTC", rustc)
                .env("RUSTC_BOOTSTRAP", "1")
                .env_remove("RUSTUP_TOOLCHAIN")
                .env_remove("CARGO");
            command
        }
    };
    command
        .args([
            "build",
            "--package",
            "weft-console",
            "--target",
            "wasm32-unknown-unknown",
            "--profile",
            "wasm-release",
        ])
        .arg("--target-dir")
        .arg(&target_dir)
        // Leptos erases component types: a quarter less code to download (docs/benchmarks.md).
        .env("RUSTFLAGS", "--cfg erase_components");
    if matches!(tools.wasm, WasmToolchain::Debian { .. }) {
        command.arg("-Zbuild-std=std,panic_abort");
    }
    run_command(&mut command)?;
    let wasm = target_dir.join("wasm32-unknown-unknown/wasm-release/weft-console.wasm");
    let out = output_dir();
    let _ = std::fs::remove_dir_all(&out);
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    run_command(
        Command::new(&tools.wasm_bindgen)
            .args([
                "--target",
                "web",
                "--no-typescript",
                "--remove-name-section",
                "--remove-producers-section",
            ])
            .arg("--out-dir")
            .arg(out.join("pkg"))
            .arg(&wasm),
    )?;
    for file in ["index.html", "style.css", "boot.js"] {
        std::fs::copy(root.join("frontend").join(file), out.join(file))
            .with_context(|| format!("copying {file}"))?;
    }
    for file in [
        "pkg/weft-console_bg.wasm",
        "pkg/weft-console.js",
        "style.css",
    ] {
        compress(&out.join(file))?;
    }
    // What a browser downloads (docs/benchmarks.md keeps these figures).
    for file in ["pkg/weft-console_bg.wasm", "pkg/weft-console.js"] {
        let size = |path: &std::path::Path| std::fs::metadata(path).map_or(0, |meta| meta.len());
        let raw = size(&out.join(file));
        let gzipped = size(&out.join(format!("{file}.gz")));
        eprintln!(
            "xtask: {file}: {} KiB, {} KiB gzipped",
            raw / 1024,
            gzipped / 1024
        );
    }
    eprintln!("xtask: console built into {}", out.display());
    Ok(out)
}

/// Writes `<file>.gz` beside `file`; weft-global serves it to clients that accept gzip.
fn compress(file: &std::path::Path) -> anyhow::Result<()> {
    use std::io::Write;
    let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(&bytes)?;
    let mut target = file.as_os_str().to_owned();
    target.push(".gz");
    std::fs::write(&target, encoder.finish()?)
        .with_context(|| format!("writing {}", file.display()))?;
    Ok(())
}
