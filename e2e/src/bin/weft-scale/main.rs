//! `weft-scale`: the zone at scale, measured. For each fleet size it starts weft-global and one
//! weft-zone (the binaries built next to this one), connects that many simulated proxies
//! (`weft-sim`: real tokens, hellos, configs and ACKs) over a number of services, and makes two
//! policy changes: one that changes every proxy's config and one that changes 1 % of them. It
//! prints one JSON object per size: connection time, the zone's memory per proxy, and for each
//! change the time from the API write to each proxy's new config, the proxies pushed to, the
//! config bytes sent and the zone's CPU time. `cargo xtask bench scale` runs it and writes the
//! table in docs/benchmarks.md.
//!
//! With `--zones N` it then measures global with N simulated zones (see `federation`).
//!
//! Usage: weft-scale [--proxies 1000,5000,10000|none] [--services 100] [--calls 2]
//!                   [--zones 0] [--zone-dataplanes 200]
//!                   [--report-every-ms 1000]
//!        weft-scale --soak-minutes 30 --proxies 2000 [--churn-percent 1]   (the soak)
//!
//! Each proxy calls the `--calls` services after its own, so its config carries their
//! endpoints (with 10,000 proxies over 100 services, 100 endpoints per service called).

use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde_json::{Value, json};
use weft_e2e::fleet::{self, MESH, service};
use weft_e2e::process::{cpu_seconds, rss_kib};
use weft_e2e::wait_until;
use weft_sim::proxies::{Fleet, Received};

mod federation;
mod soak;
mod telemetry;
/// Sessions per HTTP/2 connection to the zone (a zone allows 64 streams per connection).
pub const PER_CONNECTION: usize = 50;

fn main() -> anyhow::Result<()> {
    let mut sizes = vec![1_000usize, 5_000, 10_000];
    let mut services = 100usize;
    let mut calls = 2usize;
    let mut zones = 0usize;
    let mut zone_dataplanes = 200usize;
    let mut soak_minutes = 0u64;
    let mut churn_percent = 1.0f64;
    let mut report_every = std::time::Duration::from_secs(1);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--proxies" => {
                let list = args
                    .next()
                    .context("--proxies needs a list, e.g. 1000,5000")?;
                sizes = if list == "none" {
                    Vec::new()
                } else {
                    list.split(',')
                        .map(|size| size.trim().parse::<usize>())
                        .collect::<Result<_, _>>()
                        .context("--proxies takes numbers separated by commas, or none")?
                };
            }
            "--services" => {
                services = args
                    .next()
                    .context("--services needs a number")?
                    .parse()
                    .context("--services takes a number")?;
            }
            "--calls" => {
                calls = args
                    .next()
                    .context("--calls needs a number")?
                    .parse()
                    .context("--calls takes a number")?;
            }
            "--zones" => {
                zones = args
                    .next()
                    .context("--zones needs a number")?
                    .parse()
                    .context("--zones takes a number")?;
            }
            "--zone-dataplanes" => {
                zone_dataplanes = args
                    .next()
                    .context("--zone-dataplanes needs a number")?
                    .parse()
                    .context("--zone-dataplanes takes a number")?;
            }
            "--soak-minutes" => {
                soak_minutes = args
                    .next()
                    .context("--soak-minutes needs a number")?
                    .parse()
                    .context("--soak-minutes takes a number")?;
            }
            "--churn-percent" => {
                churn_percent = args
                    .next()
                    .context("--churn-percent needs a number")?
                    .parse()
                    .context("--churn-percent takes a number, e.g. 1 or 0.5")?;
                anyhow::ensure!(
                    (0.0..=100.0).contains(&churn_percent),
                    "--churn-percent must be between 0 and 100"
                );
            }
            "--report-every-ms" => {
                let millis: u64 = args
                    .next()
                    .context("--report-every-ms needs a number of milliseconds")?
                    .parse()
                    .context("--report-every-ms takes a number of milliseconds, e.g. 1000")?;
                anyhow::ensure!(millis >= 10, "--report-every-ms must be at least 10");
                report_every = std::time::Duration::from_millis(millis);
            }
            other => bail!(
                "unknown argument {other:?} (use --proxies, --services, --calls, --zones, --zone-dataplanes, --soak-minutes, --churn-percent and --report-every-ms)"
            ),
        }
    }
    anyhow::ensure!(services >= 1, "--services must be at least 1");
    if soak_minutes > 0 {
        let proxies = sizes.first().copied().unwrap_or(2_000);
        println!(
            "{}",
            soak::measure(
                proxies,
                soak_minutes,
                churn_percent,
                report_every,
                services,
                calls
            )?
        );
        return Ok(());
    }
    for size in sizes {
        let result = measure(size, services, calls, report_every)?;
        println!("{result}");
    }
    if zones > 0 {
        anyhow::ensure!(zones >= 2, "--zones must be 0 (skip) or at least 2");
        println!("{}", federation::measure(zones, zone_dataplanes)?);
    }
    Ok(())
}

fn measure(
    proxies: usize,
    services: usize,
    calls: usize,
    report_every: std::time::Duration,
) -> anyhow::Result<Value> {
    let work = tempfile::tempdir()?;
    let (global, zone) = fleet::start(work.path());
    let api = global.api();
    let pid = zone.process.pid().context("the zone's pid")?;
    let specs = fleet::proxies(&global, proxies, services, calls);
    let ca = std::fs::read_to_string(&zone.upstream().ca_file)?;
    let rss_idle = rss_kib(pid)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let started = Instant::now();
    let fleet = runtime
        .block_on(Fleet::start(&zone.grpc_url(), &ca, specs, PER_CONNECTION))
        .map_err(anyhow::Error::msg)?;
    wait_until(
        "every simulated proxy's first config",
        Duration::from_secs(1_200),
        || {
            let received = fleet.received();
            received.iter().all(|r| r.configs > 0).then_some(())
        },
    );
    let connect_seconds = started.elapsed().as_secs_f64();
    let connected = fleet.received();
    let retries: u64 = connected.iter().map(|r| r.retries).sum();
    let why = connected.iter().find_map(|r| r.ended.clone());
    let rss_connected = rss_kib(pid)?;

    // A limit on every proxy's inbound: every config changes.
    let all = change(
        &zone,
        &api,
        &fleet,
        pid,
        "ratelimits/everyone",
        &format!(
            "apiVersion: weft.dev/v1alpha1\nkind: RateLimit\nmetadata: {{name: everyone, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  from:\n    - targetRef: {{kind: Mesh}}\n      default: {{requests: 1000, interval: 1s}}\n"
        ),
        proxies,
    )?;
    // A limit on one service of `services`: about 1 % of the configs change.
    let one = service(0);
    let affected = proxies.div_ceil(services);
    let some = change(
        &zone,
        &api,
        &fleet,
        pid,
        "ratelimits/one-service",
        &format!(
            "apiVersion: weft.dev/v1alpha1\nkind: RateLimit\nmetadata: {{name: one-service, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Service, name: {one}}}\n  from:\n    - targetRef: {{kind: Mesh}}\n      default: {{requests: 10, interval: 1s}}\n"
        ),
        affected,
    )?;
    let expected_edges = services * calls.min(services - 1);
    let telemetry = telemetry::measure(&global, &zone, &fleet, expected_edges, report_every)?;
    let rss_end = rss_kib(pid)?;
    drop(fleet);
    Ok(json!({
        "scenario": "zone",
        "proxies": proxies,
        "services": services,
        "calls": calls,
        "connectSeconds": connect_seconds,
        "connectRetries": retries,
        "firstRetryReason": why,
        "zoneRssKib": {"idle": rss_idle, "connected": rss_connected, "end": rss_end},
        "zoneRssPerProxyKib": (rss_connected.saturating_sub(rss_idle)) as f64 / proxies as f64,
        "everyProxy": all,
        "onePercent": some,
        "telemetry": telemetry,
    }))
}

/// Writes `manifest` at `path` (under the mesh) and follows the new configs until `expected`
/// proxies have one and nothing more arrives for two seconds.
fn change(
    zone: &weft_e2e::topology::Zone,
    api: &weft_e2e::api::Api,
    fleet: &Fleet,
    pid: u32,
    path: &str,
    manifest: &str,
    expected: usize,
) -> anyhow::Result<Value> {
    let before = fleet.received();
    let computed_before = computed(zone);
    let cpu_before = cpu_seconds(pid)?;
    let written = Instant::now();
    api.apply(&format!("/api/v1/meshes/{MESH}/{path}"), manifest);
    let api_millis = written.elapsed().as_secs_f64() * 1e3;
    let changed = |now: &[Received]| -> usize {
        now.iter()
            .zip(&before)
            .filter(|(now, then)| now.configs > then.configs)
            .count()
    };
    wait_until(
        "the affected proxies' new configs",
        Duration::from_secs(600),
        || (changed(&fleet.received()) >= expected).then_some(()),
    );
    // Quiet for two seconds: nothing else was going to be pushed.
    let mut last = fleet.received();
    let mut quiet_since = Instant::now();
    while quiet_since.elapsed() < Duration::from_secs(2) {
        std::thread::sleep(Duration::from_millis(200));
        let now = fleet.received();
        if now.iter().zip(&last).any(|(a, b)| a.configs != b.configs) {
            quiet_since = Instant::now();
        }
        last = now;
    }
    let cpu = cpu_seconds(pid)? - cpu_before;
    let mut millis: Vec<f64> = last
        .iter()
        .zip(&before)
        .filter(|(now, then)| now.configs > then.configs)
        .filter_map(|(now, _)| now.last_at)
        .map(|at| at.saturating_duration_since(written).as_secs_f64() * 1e3)
        .collect();
    millis.sort_by(f64::total_cmp);
    let percentile = |p: f64| federation::percentile(&millis, p);
    let bytes: u64 = last
        .iter()
        .zip(&before)
        .map(|(now, then)| now.bytes - then.bytes)
        .sum();
    let pushes: u64 = last
        .iter()
        .zip(&before)
        .map(|(now, then)| now.configs - then.configs)
        .sum();
    Ok(json!({
        "expected": expected,
        "proxiesPushed": changed(&last),
        "pushes": pushes,
        "apiWriteMs": api_millis,
        "ackMs": {"p50": percentile(50.0), "p99": percentile(99.0), "max": percentile(100.0)},
        "configBytes": bytes,
        "zoneCpuSeconds": cpu,
        "configsComputed": computed(zone) - computed_before,
    }))
}

/// How many proxy configs the zone has computed so far.
fn computed(zone: &weft_e2e::topology::Zone) -> f64 {
    let text = weft_e2e::api::text(&format!("{}/metrics", zone.http_url()))
        .map(|(_, text)| text)
        .unwrap_or_default();
    weft_e2e::api::metric_sum(&text, &["weft_zone_configs_computed_total "])
}
