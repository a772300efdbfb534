//! `cargo xtask images`: Weft's container images, built offline. Where no registry can be
//! reached, the three public base images the Dockerfile and docker-compose.yml name
//! (`debian:bookworm-slim`, `rust:1.95-bookworm`, `postgres:15`) are made locally from
//! Debian's packages with debootstrap and loaded with `docker import` under those names, so the
//! Dockerfile and the compose file run unchanged; the Rust image carries this machine's
//! toolchain (with the wasm32 target and wasm-bindgen) and crate cache, and builds offline.
//! A base image that already exists, pulled or made here, is left alone.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use crate::{prerequisites, root, run_command};

/// The Weft images: Dockerfile target → tag.
pub const IMAGES: [(&str, &str); 4] = [
    ("global", "weft/global:dev"),
    ("zone", "weft/zone:dev"),
    ("dp", "weft/dp:dev"),
    ("demo", "weft/demo:dev"),
];

const RUNTIME: &str = "debian:bookworm-slim";
const RUST: &str = "rust:1.95-bookworm";
const POSTGRES: &str = "postgres:15";
/// The label on base images made here.
const MADE_HERE: &str = "dev.weft.made-offline";

fn step<T>(what: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    eprintln!("xtask images: {what} …");
    let started = Instant::now();
    let result = work()?;
    eprintln!("xtask images: {what}: done in {:.0?}", started.elapsed());
    Ok(result)
}

fn image_exists(tag: &str) -> anyhow::Result<bool> {
    Ok(Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .context("cannot run docker: is the Docker engine installed and running?")?
        .success())
}

/// Debian's mirror, as this machine's apt uses it.
fn mirror() -> String {
    let sources = [
        "/etc/apt/sources.list.d/debian.sources",
        "/etc/apt/sources.list",
    ];
    for file in sources {
        let Ok(text) = std::fs::read_to_string(file) else {
            continue;
        };
        for line in text.lines() {
            let words: Vec<&str> = line.split_whitespace().collect();
            let url = match words.as_slice() {
                ["URIs:", url, ..] => Some(*url),
                ["deb", url, "bookworm", ..] => Some(*url),
                _ => None,
            };
            if let Some(url) = url.filter(|url| url.contains("debian") && !url.contains("security"))
            {
                return url.to_string();
            }
        }
    }
    "http://deb.debian.org/debian".to_string()
}

/// A fresh Debian bookworm root filesystem in `dir` with `packages` added.
fn debootstrap(dir: &Path, packages: &[&str]) -> anyhow::Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let mut command = Command::new("debootstrap");
    command.args(["--variant=minbase"]);
    if !packages.is_empty() {
        command.arg(format!("--include={}", packages.join(",")));
    }
    command.arg("bookworm").arg(dir).arg(mirror());
    run_command(command.stdout(Stdio::null()))?;
    // Package lists and caches are not part of an image.
    for leftover in ["var/cache/apt/archives", "var/lib/apt/lists"] {
        let path = dir.join(leftover);
        if let Ok(entries) = std::fs::read_dir(&path) {
            for entry in entries.flatten() {
                if entry.path().is_file() {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }
    Ok(())
}

/// Loads `dir` as image `tag` with Dockerfile-style `changes` (ENV, CMD, …).
fn import(dir: &Path, tag: &str, changes: &[String]) -> anyhow::Result<()> {
    let mut tar = Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["--numeric-owner", "-c", "."])
        .stdout(Stdio::piped())
        .spawn()
        .context("cannot run tar")?;
    let mut docker = Command::new("docker");
    docker.arg("import");
    for change in changes.iter().chain([&format!("LABEL {MADE_HERE}=1")]) {
        docker.arg("--change").arg(change);
    }
    let stdout = tar.stdout.take().context("tar's output")?;
    let status = docker
        .arg("-")
        .arg(tag)
        .stdin(stdout)
        .stdout(Stdio::null())
        .status()
        .context("cannot run docker import")?;
    if !tar.wait()?.success() || !status.success() {
        bail!("loading {} as {tag} failed", dir.display());
    }
    Ok(())
}

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to.parent().unwrap_or(to))?;
    run_command(Command::new("cp").arg("-a").arg(from).arg(to))
}

/// The toolchain rustup runs here, with its wasm32 target.
fn toolchain_dir() -> anyhow::Result<PathBuf> {
    let output = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .context("cannot run rustc")?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
    let dir = std::fs::canonicalize(&sysroot)?;
    if !dir.join("lib/rustlib/wasm32-unknown-unknown").is_dir() {
        bail!(
            "the toolchain at {} has no wasm32-unknown-unknown target: run `rustup target add wasm32-unknown-unknown`",
            dir.display()
        );
    }
    Ok(dir)
}

fn cargo_home() -> PathBuf {
    std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_default()).join(".cargo")
        })
}

fn rust_image(dir: &Path) -> anyhow::Result<()> {
    debootstrap(dir, &["gcc", "libc6-dev", "ca-certificates"])?;
    let toolchain = toolchain_dir()?;
    let rustup_home = dir.join("usr/local/rustup");
    let name = "1.95.0-x86_64-unknown-linux-gnu";
    copy_tree(&toolchain, &rustup_home.join("toolchains").join(name))?;
    std::fs::write(
        rustup_home.join("settings.toml"),
        format!("version = \"12\"\ndefault_toolchain = \"{name}\"\nprofile = \"minimal\"\n"),
    )?;
    let home = cargo_home();
    let bin = dir.join("usr/local/cargo/bin");
    std::fs::create_dir_all(&bin)?;
    let rustup = prerequisites::which("rustup").context("rustup not found")?;
    std::fs::copy(&rustup, bin.join("rustup"))?;
    for proxy in [
        "cargo",
        "rustc",
        "rustdoc",
        "rustfmt",
        "cargo-clippy",
        "clippy-driver",
    ] {
        std::os::unix::fs::symlink("rustup", bin.join(proxy))?;
    }
    let wasm_bindgen = home.join("bin/wasm-bindgen");
    if wasm_bindgen.is_file() {
        std::fs::copy(&wasm_bindgen, bin.join("wasm-bindgen"))?;
    }
    // The crates this workspace needs, so the image builds without a registry.
    copy_tree(
        &home.join("registry"),
        &dir.join("usr/local/cargo/registry"),
    )?;
    import(
        dir,
        RUST,
        &[
            "ENV RUSTUP_HOME=/usr/local/rustup".into(),
            "ENV CARGO_HOME=/usr/local/cargo".into(),
            "ENV CARGO_NET_OFFLINE=true".into(),
            "ENV PATH=/usr/local/cargo/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "CMD [\"bash\"]".into(),
        ],
    )
}

fn postgres_image(dir: &Path) -> anyhow::Result<()> {
    debootstrap(dir, &["postgresql-15"])?;
    let entrypoint = dir.join("usr/local/bin/docker-entrypoint.sh");
    std::fs::copy(
        root().join("deploy/offline/postgres-entrypoint.sh"),
        &entrypoint,
    )?;
    import(
        dir,
        POSTGRES,
        &[
            "ENV PATH=/usr/lib/postgresql/15/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".into(),
            "ENV PGDATA=/var/lib/postgresql/data".into(),
            "ENTRYPOINT [\"docker-entrypoint.sh\"]".into(),
            "CMD [\"postgres\"]".into(),
            "EXPOSE 5432".into(),
        ],
    )
}

/// Makes a base image in a working directory.
type Maker = fn(&Path) -> anyhow::Result<()>;

/// Makes the base images that are missing, then builds the Weft images.
pub fn run() -> anyhow::Result<()> {
    let started = Instant::now();
    let work = root().join("target/images");
    let bases: [(&str, Maker); 3] = [
        (RUNTIME, |dir| {
            debootstrap(dir, &[])?;
            import(dir, RUNTIME, &["CMD [\"bash\"]".into()])
        }),
        (RUST, rust_image),
        (POSTGRES, postgres_image),
    ];
    for (tag, make) in bases {
        if image_exists(tag)? {
            eprintln!("xtask images: {tag} is here already");
            continue;
        }
        if prerequisites::which("debootstrap").is_none() {
            prerequisites::apt_install(&["debootstrap"])?;
        }
        let dir = work.join(tag.replace([':', '/'], "-"));
        step(&format!("{tag} from Debian's packages"), || make(&dir))?;
        let _ = std::fs::remove_dir_all(&dir);
    }
    for (target, tag) in IMAGES {
        step(&format!("{tag} (Dockerfile target {target})"), || {
            run_command(
                Command::new("docker")
                    .args(["build", "--target", target, "-t", tag, "."])
                    .current_dir(root()),
            )
        })?;
    }
    eprintln!(
        "xtask images: all images ready in {:.0?}",
        started.elapsed()
    );
    Ok(())
}
