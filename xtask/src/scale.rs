//! `cargo xtask bench scale` (not in CI): the zone with 1,000, 5,000 and 10,000 simulated
//! proxies (`weft-scale`, release builds), and the table it measures in docs/benchmarks.md.

use std::process::Command;
use std::time::Instant;

use anyhow::Context;
use serde_json::Value;

use crate::{root, run_command};

const BEGIN: &str = "<!-- scale:begin (cargo xtask bench scale writes this part) -->";
const FEDERATION_BEGIN: &str =
    "<!-- federation:begin (cargo xtask bench scale writes this part) -->";
const FEDERATION_END: &str = "<!-- federation:end -->";
const END: &str = "<!-- scale:end -->";

/// Release builds of weft-global, weft-zone and weft-scale.
pub fn build() -> anyhow::Result<()> {
    run_command(crate::cargo().args([
        "build",
        "--release",
        "-p",
        "weft-global",
        "-p",
        "weft-zone",
        "-p",
        "weft-e2e",
        "--bin",
        "weft-global",
        "--bin",
        "weft-zone",
        "--bin",
        "weft-scale",
    ]))?;
    Ok(())
}

pub fn run(proxies: &str, zones: usize) -> anyhow::Result<()> {
    let started = Instant::now();
    build()?;
    eprintln!("xtask: measuring {proxies} simulated proxies (this takes minutes)");
    let mut child = Command::new(root().join("target/release/weft-scale"))
        .args(["--proxies", proxies, "--zones", &zones.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit())
        .spawn()
        .context("cannot run weft-scale")?;
    let stdout = child.stdout.take().context("weft-scale's output")?;
    // The table is written after every fleet size, so a long run keeps what it measured.
    let doc = root().join("docs/benchmarks.md");
    let mut results: Vec<Value> = Vec::new();
    for line in std::io::BufRead::lines(std::io::BufReader::new(stdout)) {
        let line = line?;
        let result: Value = serde_json::from_str(&line)
            .with_context(|| format!("weft-scale printed something other than JSON: {line}"))?;
        let text = std::fs::read_to_string(&doc)?;
        let (report, text) = if result["scenario"] == "federation" {
            let report = federation_table(&result);
            let text = crate::pytools::splice(&text, FEDERATION_BEGIN, FEDERATION_END, &report);
            (report, text)
        } else {
            results.push(result);
            let report = table(&results);
            let text = crate::pytools::splice(&text, BEGIN, END, &report);
            (report, text)
        };
        std::fs::write(&doc, text)?;
        println!("{report}");
    }
    anyhow::ensure!(child.wait()?.success(), "weft-scale failed");
    eprintln!(
        "xtask: scale results written to docs/benchmarks.md in {:.0?}",
        started.elapsed()
    );
    Ok(())
}

fn federation_table(result: &Value) -> String {
    let number = |value: &Value, digits: usize| {
        value
            .as_f64()
            .map_or("–".to_string(), |number| format!("{number:.digits$}"))
    };
    let mib = |value: &Value| number(&json_div(value, 1024.0), 0);
    format!(
        "Measured {} on this machine (2 cores) with `cargo xtask bench scale`: one weft-global \
         (release build, SQLite) and {} simulated zones (`weft-sim`: real zone tokens and the \
         federation protocol) of {} dataplanes each, {} in all, over a synthetic mesh of {} \
         services and {} edges whose traffic the zones report every second.\n\n\
         | measure | value |\n|---|---|\n\
         | federation converged (every zone holds every other zone's dataplanes) | {} s, global CPU {} s |\n\
         | zone syncs refused while they connected (dialled again after 1 s) | {} {} |\n\
         | one write → in every zone: p50 / p99 / max | {} / {} / {} ms (global CPU {} s) |\n\
         | global RSS: idle → converged → with telemetry | {} → {} → {} MiB |\n\
         | graph endpoint ({} services, {} edges, {} KB): p50 / p99 | {} / {} ms |\n\
         | global CPU while the zones report every second (nothing else asked of it) | {} % of a core |\n",
        crate::bench::today(),
        result["zones"],
        result["dataplanesPerZone"],
        result["zones"].as_u64().unwrap_or(0) * result["dataplanesPerZone"].as_u64().unwrap_or(0),
        result["services"],
        result["edges"],
        number(&result["convergeSeconds"], 1),
        number(&result["convergeCpuSeconds"], 1),
        result["syncsRefused"],
        result["firstRefusal"]
            .as_str()
            .map_or(String::new(), |why| format!("(first: {why})")),
        number(&result["writeToEveryZoneMs"]["p50"], 0),
        number(&result["writeToEveryZoneMs"]["p99"], 0),
        number(&result["writeToEveryZoneMs"]["max"], 0),
        number(&result["writeCpuSeconds"], 2),
        mib(&result["globalRssKib"]["idle"]),
        mib(&result["globalRssKib"]["converged"]),
        mib(&result["globalRssKib"]["end"]),
        result["services"],
        result["edges"],
        number(&json_div(&result["graphBytes"], 1000.0), 0),
        number(&result["graphMs"]["p50"], 0),
        number(&result["graphMs"]["p99"], 0),
        number(
            &json_div(&result["globalCpuPerSecondWithTelemetry"], 0.01),
            0
        ),
    )
}

fn json_div(value: &Value, by: f64) -> Value {
    value
        .as_f64()
        .map_or(Value::Null, |number| Value::from(number / by))
}

fn table(results: &[Value]) -> String {
    let ms = |value: &Value| {
        value
            .as_f64()
            .map_or("–".to_string(), |ms| format!("{ms:.0}"))
    };
    let mut out = format!(
        "Measured {} on this machine (2 cores) with `cargo xtask bench scale`: one weft-global and \
         one weft-zone (release builds, SQLite), N simulated proxies over 100 services, each proxy \
         calling 2 of them (`weft-sim`: real dataplane tokens, hellos, configs and ACKs, 50 \
         sessions per connection). \"Every \
         proxy\" adds a RateLimit on every inbound; \"1 %\" adds one on a single service. ACK \
         times run from the API write to each proxy's new config; \"configs computed\" counts the \
         proxies the zone recomputed (`weft_zone_configs_computed_total`); zone CPU covers the \
         change and the 2 s of quiet that end its measurement.\n\n\
         | proxies | connect all (hellos refused) | zone RSS / proxy | change | proxies pushed | configs computed | ACK p50 | ACK p99 | ACK max | config bytes | zone CPU |\n\
         |---|---|---|---|---|---|---|---|---|---|---|\n",
        crate::bench::today()
    );
    for result in results {
        for (label, key) in [("every proxy", "everyProxy"), ("1 %", "onePercent")] {
            let change = &result[key];
            out.push_str(&format!(
                "| {} | {:.1} s ({}) | {:.1} KiB | {label} | {} of {} | {} | {} ms | {} ms | {} ms | {:.0} KB | {:.2} s |\n",
                result["proxies"],
                result["connectSeconds"].as_f64().unwrap_or(f64::NAN),
                result["connectRetries"],
                result["zoneRssPerProxyKib"].as_f64().unwrap_or(f64::NAN),
                change["proxiesPushed"],
                change["expected"],
                change["configsComputed"],
                ms(&change["ackMs"]["p50"]),
                ms(&change["ackMs"]["p99"]),
                ms(&change["ackMs"]["max"]),
                change["configBytes"].as_f64().unwrap_or(0.0) / 1e3,
                change["zoneCpuSeconds"].as_f64().unwrap_or(f64::NAN),
            ));
        }
    }
    out.push_str(
        "\nTelemetry: then every proxy reports once a second (ten requests to each service it \
         calls) through the zone to global; \"in the graph\" is the time from switching the \
         reports on until global's graph shows every edge; the rest is measured over 10 s.\n\n\
         | proxies | reports / s | bytes / report | zone CPU | zone CPU / report | global CPU | dropped by the zone | in the graph |\n\
         |---|---|---|---|---|---|---|---|\n",
    );
    for result in results {
        let telemetry = &result["telemetry"];
        let number = |key: &str, digits: usize| {
            telemetry[key]
                .as_f64()
                .map_or("–".to_string(), |value| format!("{value:.digits$}"))
        };
        out.push_str(&format!(
            "| {} | {} | {} | {} % | {} µs | {} % | {} | {} s |\n",
            result["proxies"],
            number("reportsPerSecond", 0),
            number("bytesPerReport", 0),
            number("zoneCpuPercent", 0),
            number("zoneCpuMicrosPerReport", 0),
            number("globalCpuPercent", 0),
            number("dropped", 0),
            number("firstReportToGraphSeconds", 1),
        ));
    }
    out
}
