//! `cargo xtask screenshots` (not in CI): runs the console's browser tests, which photograph
//! the pages they check, and copies the pictures into docs/, so the README and docs show the
//! console as it is.

use crate::{console, prerequisites, root, run_command};

/// Screenshot taken by the tests → where the docs keep it.
const PICTURES: [(&str, &str); 4] = [
    ("graph", "docs/console.png"),
    ("dataplane", "docs/dataplane.png"),
    ("policy-form", "docs/policy-form.png"),
    ("rollout", "docs/rollout.png"),
];

pub fn run() -> anyhow::Result<()> {
    let tools = prerequisites::ensure()?;
    let console_dir = console::build(&prerequisites::ConsoleTools {
        wasm: tools.wasm.clone(),
        wasm_bindgen: tools.wasm_bindgen.clone(),
    })?;
    run_command(crate::cargo().args(["build", "--workspace", "--bins"]))?;
    let shots = root().join("target/screenshots");
    let _ = std::fs::remove_dir_all(&shots);
    run_command(
        crate::cargo()
            .args(["test", "-p", "weft-e2e", "--test", "console"])
            .env("WEFT_CONSOLE_DIR", &console_dir)
            .env("WEFT_CHROMIUM", &tools.chromium)
            .env("WEFT_CHROMEDRIVER", &tools.chromedriver),
    )?;
    for (shot, doc) in PICTURES {
        let from = shots.join(format!("{shot}.png"));
        std::fs::copy(&from, root().join(doc))
            .map_err(|error| anyhow::anyhow!("{}: {error}", from.display()))?;
        eprintln!("xtask: {doc} updated");
    }
    Ok(())
}
