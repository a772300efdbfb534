//! `cargo xtask <command>`: the two README commands (`demo`, `test`) and their building blocks.

mod architecture;
mod bench;
mod compose;
mod console;
mod demo;
mod images;
mod interop;
mod prerequisites;
mod pytools;
mod scale;
mod schemathesis;
mod screenshots;
mod soak;
mod sslyze;
mod test;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "cargo xtask", about = "Build, run and test Weft")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Subcommand)]
enum Task {
    /// Build everything and run the demo: global, zones east and west, the shop, load; Ctrl-C stops it.
    Demo(demo::DemoArgs),
    /// Run every test: unit, store (SQLite and a throwaway Postgres), end to end, and the console in headless Chromium.
    Test(test::TestArgs),
    /// Build the console (wasm) into target/console.
    Console,
    /// Check the architecture invariants of docs/ARCHITECTURE.md against the dependency graph.
    Check,
    /// Check the system prerequisites, installing them with apt when running as root on Debian.
    Setup,
    /// Benchmarks, side by side with a baseline, written to docs/benchmarks.md (not in CI).
    Bench(bench::BenchArgs),
    /// Scan a strict-mesh proxy's mTLS port and the control planes' gRPC ports with sslyze; results in docs/security.md (not in CI).
    Sslyze,
    /// Fuzz the REST API from its OpenAPI document with schemathesis, as a platform admin and as a tenant viewer; results in docs/security.md (not in CI).
    Schemathesis(schemathesis::SchemathesisArgs),
    /// Run the console's browser tests and copy the pages they photograph into docs/ (not in CI).
    Screenshots,
    /// Build Weft's container images; where no registry is reachable, make the base images from
    /// Debian's packages first (not in CI).
    Images,
    /// Run docker-compose.yml on the local engine and the failure scenarios across containers;
    /// leaves nothing behind (not in CI).
    ComposeTest,
    /// Run Python gRPC applications (grpcio's xDS client) against a real weft-zone; also part of
    /// `test`.
    Interop,
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Task::Demo(args) => demo::run(args),
        Task::Test(args) => test::run(args),
        Task::Console => {
            prerequisites::ensure_console().and_then(|tools| console::build(&tools).map(|_| ()))
        }
        Task::Check => architecture::check(),
        Task::Setup => prerequisites::ensure().map(|_| ()),
        Task::Bench(args) => bench::run(args),
        Task::Sslyze => sslyze::run(),
        Task::Schemathesis(args) => schemathesis::run(args),
        Task::Screenshots => screenshots::run(),
        Task::Images => images::run(),
        Task::ComposeTest => compose::run(),
        Task::Interop => interop::run(),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("xtask: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// The workspace root (xtask lives one level below it).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// Runs a command in the workspace root, failing with its name when it fails.
pub fn run_command(command: &mut Command) -> anyhow::Result<()> {
    let shown = format!("{command:?}");
    eprintln!("xtask: running {shown}");
    let status = command
        .current_dir(root())
        .status()
        .with_context(|| format!("cannot start {shown}"))?;
    if !status.success() {
        bail!("{shown} failed with {status}");
    }
    Ok(())
}

/// The cargo that runs xtask (rustup's), for native builds.
pub fn cargo() -> Command {
    Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
}
