//! `cargo xtask bench soak` (not in CI): `weft-scale --soak-minutes`, 2,000 simulated proxies
//! on one zone for 30 minutes with 1 % churn a minute, and its table in docs/benchmarks.md.

use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use crate::root;

const BEGIN: &str = "<!-- soak:begin (cargo xtask bench soak writes this part) -->";
const END: &str = "<!-- soak:end -->";

pub fn run(proxies: usize, minutes: u64, churn_percent: f64) -> anyhow::Result<()> {
    anyhow::ensure!(minutes >= 1, "--minutes must be at least 1");
    let started = Instant::now();
    crate::scale::build()?;
    eprintln!("xtask: soaking {proxies} simulated proxies for {minutes} minutes");
    let output = Command::new(root().join("target/release/weft-scale"))
        .args([
            "--proxies",
            &proxies.to_string(),
            "--soak-minutes",
            &minutes.to_string(),
            "--churn-percent",
            &churn_percent.to_string(),
        ])
        .stderr(std::process::Stdio::inherit())
        .output()
        .context("cannot run weft-scale")?;
    anyhow::ensure!(output.status.success(), "weft-scale failed");
    let text = String::from_utf8_lossy(&output.stdout);
    let line = text.lines().last().context("weft-scale printed nothing")?;
    let result: Value = serde_json::from_str(line)
        .with_context(|| format!("weft-scale printed something other than JSON: {line}"))?;
    let report = table(&result);
    let doc = root().join("docs/benchmarks.md");
    let existing = std::fs::read_to_string(&doc)?;
    std::fs::write(&doc, crate::pytools::splice(&existing, BEGIN, END, &report))?;
    println!("{report}");
    eprintln!(
        "xtask: soak results written to docs/benchmarks.md in {:.0?}",
        started.elapsed()
    );
    Ok(())
}

/// A count that arrived as a number of any kind.
fn count(value: &Value) -> String {
    value
        .as_f64()
        .map_or("–".to_string(), |count| format!("{count:.0}"))
}

fn table(result: &Value) -> String {
    let mib = |value: &Value| {
        value
            .as_f64()
            .map_or("–".to_string(), |kib| format!("{:.0}", kib / 1024.0))
    };
    let mut out = format!(
        "Measured {} on this machine (2 cores) with `cargo xtask bench soak`: one weft-global and \
         one weft-zone (release builds, SQLite), {} simulated proxies over 100 services, each \
         calling 2 and reporting telemetry every second; each minute the oldest {} leave with a \
         goodbye, {} new ones join, and one policy change must reach every connected proxy.\n\n\
         | minute | zone RSS | global RSS | proxies connected | change reached all | hellos refused (total) | reports dropped (total) |\n\
         |---|---|---|---|---|---|---|\n",
        crate::bench::today(),
        result["proxies"],
        result["churnPerMinute"],
        result["churnPerMinute"],
    );
    let samples = result["samples"].as_array().cloned().unwrap_or_default();
    let last = samples.len().saturating_sub(1);
    for (index, sample) in samples.iter().enumerate() {
        // Every fifth minute, and the first and last.
        let minute = sample["minute"].as_u64().unwrap_or(0);
        if !(index == 0 || index == last || minute % 5 == 0) {
            continue;
        }
        out.push_str(&format!(
            "| {} | {} MiB | {} MiB | {} | {} | {} | {} |\n",
            minute,
            mib(&sample["zoneRssKib"]),
            mib(&sample["globalRssKib"]),
            count(&sample["connected"]),
            sample["changeSeconds"]
                .as_f64()
                .map_or("–".to_string(), |seconds| format!("{seconds:.2} s")),
            sample["hellosRefused"],
            count(&sample["telemetryDropped"]),
        ));
    }
    out
}
