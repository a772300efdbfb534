//! `cargo xtask interop`: gRPC's own xDS client (Python `grpcio`) against a real weft-zone
//! (`e2e/tests/xds.rs`). `cargo xtask test` runs the same test with the same Python.

use std::path::PathBuf;
use std::process::Command;

use crate::{pytools, run_command};

/// What the interop test installs from PyPI, pinned.
const REQUIREMENTS: [&str; 3] = [
    "grpcio==1.85.4",
    "grpcio-csds==1.85.0",
    "xds-protos==1.85.0",
];

/// The Python of `target/xds-venv`, with gRPC's xDS client, CSDS and the xDS protos.
pub fn python() -> anyhow::Result<PathBuf> {
    let (bin, version) = pytools::venv("xds-venv", "pip", "pip")?;
    let python = bin.join("python");
    let installed = Command::new(&python)
        .args([
            "-c",
            "import grpc, grpc_csds, envoy.service.status.v3.csds_pb2; print(grpc.__version__)",
        ])
        .output()
        .is_ok_and(|output| {
            output.status.success() && String::from_utf8_lossy(&output.stdout).trim() == "1.85.4"
        });
    if !installed {
        eprintln!("xtask: installing grpcio, grpcio-csds and xds-protos from PyPI (pip {version})");
        run_command(
            Command::new(bin.join("pip"))
                .args(["install", "-q"])
                .args(REQUIREMENTS),
        )?;
    }
    Ok(python)
}

pub fn run() -> anyhow::Result<()> {
    let python = python()?;
    run_command(crate::cargo().args(["build", "--workspace", "--bins"]))?;
    run_command(
        crate::cargo()
            .args([
                "test",
                "-p",
                "weft-e2e",
                "--test",
                "xds",
                "--",
                "--nocapture",
            ])
            .env("WEFT_XDS_PYTHON", &python),
    )
}
