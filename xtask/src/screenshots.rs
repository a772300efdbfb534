//! `cargo xtask screenshots` (not in CI): runs the console's browser tests, which photograph
//! the pages they check and time the graph page (the demo shop, and a synthetic mesh of 500
//! services), copies the pictures into docs/ and writes the timings into docs/benchmarks.md.

use crate::{console, prerequisites, root, run_command};

/// Screenshot taken by the tests → where the docs keep it.
const PICTURES: [(&str, &str); 7] = [
    ("graph", "docs/console.png"),
    ("graph-500", "docs/console-500.png"),
    ("zones", "docs/console-zones.png"),
    ("dataplane", "docs/dataplane.png"),
    ("policy-form", "docs/policy-form.png"),
    ("policy-yaml", "docs/policy-yaml.png"),
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
            .env("WEFT_CHROMEDRIVER", &tools.chromedriver)
            .env("WEFT_AXE_JS", crate::pytools::axe_core()?),
    )?;
    for (shot, doc) in PICTURES {
        let from = shots.join(format!("{shot}.png"));
        std::fs::copy(&from, root().join(doc))
            .map_err(|error| anyhow::anyhow!("{}: {error}", from.display()))?;
        eprintln!("xtask: {doc} updated");
    }
    let timings: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shots.join("timings.json"))?)?;
    let painted = timings["graphFirstPaintMs"].as_f64().unwrap_or(f64::NAN);
    let large: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(shots.join("timings-500.json"))?)?;
    let figure = |key: &str| large[key].as_f64().unwrap_or(f64::NAN);
    let report = format!(
        "Graph page, from a fresh load to the first graph painted (Performance API mark, headless \
         Chromium, the demo shop of 6 instances, {today}): **{painted:.0} ms** (goal: at most 1,500 ms).\n\n\
         The synthetic mesh of {services} services and {edges} edges (`weft-sim`: a simulated zone \
         registers the dataplanes and reports a second of traffic on every edge each second over \
         the real federation stream), from the first graph frame decoded to its pixels on screen \
         (layout, render and paint; marks `weft-graph-data` → `weft-graph-painted`): \
         **{to_pixels:.0} ms** (goal: at most 1,000 ms); from a fresh load: {first:.0} ms. \
         Test: `a_mesh_of_500_services_and_2000_edges_is_drawn_and_stays_usable` in \
         `e2e/tests/console.rs`.\n",
        today = crate::bench::today(),
        services = figure("services"),
        edges = figure("edges"),
        to_pixels = figure("dataToPixelsMs"),
        first = figure("firstPaintMs"),
    );
    let doc = root().join("docs/benchmarks.md");
    let text = std::fs::read_to_string(&doc)?;
    std::fs::write(
        &doc,
        crate::pytools::splice(&text, TIMING_BEGIN, TIMING_END, &report),
    )?;
    eprintln!("xtask: graph timings written to docs/benchmarks.md");
    Ok(())
}

const TIMING_BEGIN: &str =
    "<!-- console-timing:begin (cargo xtask screenshots writes this part) -->";
const TIMING_END: &str = "<!-- console-timing:end -->";
