//! `cargo xtask test`: every test, with the prerequisites the tests need.

use std::time::Instant;

use crate::{console, prerequisites, run_command};

#[derive(clap::Args)]
pub struct TestArgs {
    /// Skip `cargo fmt --check`, `cargo clippy -D warnings` and the architecture check.
    #[arg(long)]
    no_lint: bool,
    /// Extra arguments for `cargo test` (after `--`), e.g. a test name filter.
    #[arg(last = true)]
    cargo_test_args: Vec<String>,
}

pub fn run(args: TestArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let tools = prerequisites::ensure()?;
    let step =
        |name: &str, since: Instant| eprintln!("xtask: {name} done in {:.0?}", since.elapsed());
    if !args.no_lint {
        let lint = Instant::now();
        run_command(crate::cargo().args(["fmt", "--all", "--", "--check"]))?;
        run_command(crate::cargo().args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--",
            "-D",
            "warnings",
        ]))?;
        crate::architecture::check()?;
        step("lint", lint);
    }
    let build = Instant::now();
    let console_dir = console::build(&prerequisites::ConsoleTools {
        wasm: tools.wasm.clone(),
        wasm_bindgen: tools.wasm_bindgen.clone(),
    })?;
    run_command(crate::cargo().args(["build", "--workspace", "--bins"]))?;
    step("build", build);
    let tests = Instant::now();
    run_command(
        crate::cargo()
            .args(["test", "--workspace", "--no-fail-fast"])
            .args(&args.cargo_test_args)
            .env("WEFT_CONSOLE_DIR", &console_dir)
            .env("WEFT_PG_BIN", &tools.postgres_bin)
            .env("WEFT_CHROMIUM", &tools.chromium)
            .env("WEFT_CHROMEDRIVER", &tools.chromedriver)
            .env("WEFT_PROMTOOL", &tools.promtool)
            .env("WEFT_AXE_JS", crate::pytools::axe_core()?)
            .env("WEFT_XDS_PYTHON", crate::interop::python()?),
    )?;
    // The model as the console builds it: pattern syntax only.
    run_command(crate::cargo().args([
        "test",
        "-p",
        "weft-model",
        "--no-default-features",
        "--lib",
    ]))?;
    step("tests", tests);
    eprintln!("xtask: all tests passed in {:.0?}", started.elapsed());
    Ok(())
}
