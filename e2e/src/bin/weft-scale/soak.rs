//! The soak: `proxies` simulated proxies on one zone for `minutes`, every one reporting
//! telemetry each second; each minute the oldest `churn_percent` (1 %) leave (with a goodbye,
//! as a scaled-down deployment does), as many new ones join, and one policy change must reach every connected
//! proxy. A sample each minute records the zone's and global's memory, the proxies connected,
//! how long the change took to reach them all, and the hellos refused so far. Flat memory from
//! start to end means nothing grows with time or churn.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use weft_e2e::fleet::{self, MESH};
use weft_e2e::process::rss_kib;
use weft_e2e::{api, wait_until};
use weft_sim::proxies::{Fleet, ProxySpec};

use crate::PER_CONNECTION;

pub fn measure(
    proxies: usize,
    minutes: u64,
    churn_percent: f64,
    report_every: Duration,
    services: usize,
    calls: usize,
) -> anyhow::Result<Value> {
    let work = tempfile::tempdir()?;
    let (global, zone) = fleet::start(work.path());
    let api = global.api();
    let zone_pid = zone.process.pid().context("the zone's pid")?;
    let global_pid = global.process.pid().context("global's pid")?;
    let specs = fleet::proxies(&global, proxies, services, calls);
    // Every service's token, for the proxies that join later (there may be fewer proxies
    // than services at first).
    let tokens = fleet::tokens(&global, services);
    let ca = std::fs::read_to_string(&zone.upstream().ca_file)?;
    let runtime = tokio::runtime::Runtime::new()?;
    let mut fleet = runtime
        .block_on(Fleet::start(&zone.grpc_url(), &ca, specs, PER_CONNECTION))
        .map_err(anyhow::Error::msg)?;
    wait_until(
        "every proxy's first config",
        Duration::from_secs(600),
        || fleet.received().iter().all(|r| r.configs > 0).then_some(()),
    );
    fleet.report_telemetry_every(Some(report_every));
    let churn = ((proxies as f64 * churn_percent / 100.0).round() as usize).min(proxies);
    let mut active: VecDeque<usize> = (0..proxies).collect();
    let mut samples = vec![sample(0, &zone, zone_pid, global_pid, &fleet, None)?];
    for minute in 1..=minutes {
        let started = Instant::now();
        for _ in 0..churn {
            if let Some(index) = active.pop_front() {
                fleet.leave(index);
            }
        }
        let first = fleet.received().len();
        let joining: Vec<ProxySpec> = (first..first + churn)
            .map(|index| fleet::proxy(index, services, calls, &tokens[index % services]))
            .collect();
        runtime
            .block_on(fleet.join(&zone.grpc_url(), &ca, joining, PER_CONNECTION))
            .map_err(anyhow::Error::msg)?;
        active.extend(first..first + churn);

        // One change a minute; every connected proxy must get it.
        let before = fleet.received();
        let written = Instant::now();
        api.apply(
            &format!("/api/v1/meshes/{MESH}/ratelimits/soak"),
            &format!(
                "apiVersion: weft.dev/v1alpha1\nkind: RateLimit\nmetadata: {{name: soak, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  from:\n    - targetRef: {{kind: Mesh}}\n      default: {{requests: {}, interval: 1s}}\n",
                1_000 + minute
            ),
        );
        wait_until("the change at every proxy", Duration::from_secs(50), || {
            let now = fleet.received();
            active
                .iter()
                .all(|&index| {
                    let then = before.get(index).map_or(0, |r| r.configs);
                    now[index].configs > then
                })
                .then_some(())
        });
        let reached = written.elapsed().as_secs_f64();
        samples.push(sample(
            minute,
            &zone,
            zone_pid,
            global_pid,
            &fleet,
            Some(reached),
        )?);
        eprintln!(
            "weft-scale soak: {}",
            samples.last().unwrap_or(&Value::Null)
        );
        // The next minute starts a minute after this one did.
        std::thread::sleep(Duration::from_secs(60).saturating_sub(started.elapsed()));
    }
    drop(fleet);
    Ok(json!({
        "scenario": "soak",
        "proxies": proxies,
        "minutes": minutes,
        "churnPerMinute": churn,
        "samples": samples,
    }))
}

fn sample(
    minute: u64,
    zone: &weft_e2e::topology::Zone,
    zone_pid: u32,
    global_pid: u32,
    fleet: &Fleet,
    reached: Option<f64>,
) -> anyhow::Result<Value> {
    let metrics = api::text(&format!("{}/metrics", zone.http_url()))
        .map(|(_, text)| text)
        .unwrap_or_default();
    let received = fleet.received();
    Ok(json!({
        "minute": minute,
        "zoneRssKib": rss_kib(zone_pid)?,
        "globalRssKib": rss_kib(global_pid)?,
        "connected": api::metric_sum(&metrics, &["weft_zone_dataplanes_connected "]),
        "changeSeconds": reached,
        "hellosRefused": received.iter().map(|r| r.retries).sum::<u64>(),
        "reports": received.iter().map(|r| r.reports).sum::<u64>(),
        "telemetryDropped": api::metric_sum(&metrics, &["weft_zone_telemetry_dropped_total "]),
    }))
}
