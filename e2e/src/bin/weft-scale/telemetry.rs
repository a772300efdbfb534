//! Telemetry at scale: every simulated proxy reports once a second, or as often as
//! `--report-every-ms` says (ten requests to each service it calls), through the zone to
//! global. It measures how long the first reports take to make every edge appear in global's
//! graph, then over ten seconds the reports and bytes sent, the zone's and global's CPU, and
//! the reports the zone dropped.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use weft_e2e::api;
use weft_e2e::fleet::MESH;
use weft_e2e::process::cpu_seconds;
use weft_e2e::topology::{Global, Zone};
use weft_e2e::wait_until;
use weft_sim::proxies::Fleet;

const WINDOW: Duration = Duration::from_secs(10);

pub fn measure(
    global: &Global,
    zone: &Zone,
    fleet: &Fleet,
    edges: usize,
    every: Duration,
) -> anyhow::Result<Value> {
    let api = global.api();
    let zone_pid = zone.process.pid().context("the zone's pid")?;
    let global_pid = global.process.pid().context("global's pid")?;
    let started = Instant::now();
    fleet.report_telemetry_every(Some(every));
    wait_until("every edge in the graph", Duration::from_secs(120), || {
        let (status, graph) = api.get(&format!("/api/v1/meshes/{MESH}/graph")).ok()?;
        (status == 200 && graph["edges"].as_array()?.len() >= edges).then_some(())
    });
    let first_seen = started.elapsed().as_secs_f64();

    let sent = |fleet: &Fleet| -> (u64, u64) {
        fleet.received().iter().fold((0, 0), |(reports, bytes), r| {
            (reports + r.reports, bytes + r.report_bytes)
        })
    };
    let dropped = || {
        let text = api::text(&format!("{}/metrics", zone.http_url()))
            .map(|(_, text)| text)
            .unwrap_or_default();
        api::metric_sum(&text, &["weft_zone_telemetry_dropped_total "])
    };
    let (reports_before, bytes_before) = sent(fleet);
    let dropped_before = dropped();
    let zone_cpu = cpu_seconds(zone_pid)?;
    let global_cpu = cpu_seconds(global_pid)?;
    let window = Instant::now();
    std::thread::sleep(WINDOW);
    let seconds = window.elapsed().as_secs_f64();
    let zone_cpu = cpu_seconds(zone_pid)? - zone_cpu;
    let global_cpu = cpu_seconds(global_pid)? - global_cpu;
    let (reports, bytes) = sent(fleet);
    let (reports, bytes) = (reports - reports_before, bytes - bytes_before);
    let dropped = dropped() - dropped_before;
    fleet.report_telemetry(false);
    Ok(json!({
        "edges": edges,
        "reportEveryMs": every.as_millis() as u64,
        "firstReportToGraphSeconds": first_seen,
        "reportsPerSecond": reports as f64 / seconds,
        "bytesPerReport": bytes as f64 / (reports.max(1)) as f64,
        "zoneCpuPercent": 100.0 * zone_cpu / seconds,
        "globalCpuPercent": 100.0 * global_cpu / seconds,
        "zoneCpuMicrosPerReport": 1e6 * zone_cpu / (reports.max(1)) as f64,
        "dropped": dropped,
    }))
}
