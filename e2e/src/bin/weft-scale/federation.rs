//! Global at scale: `zones` simulated zones (`weft-sim`, the real federation protocol and zone
//! tokens) connect to one weft-global and register `per_zone` dataplanes each, of a synthetic
//! mesh of 500 services with 2,000 edges whose traffic every zone reports each second. It
//! measures how long federation takes to converge (every zone holding every other zone's
//! dataplanes), the time from one API write to its arrival in every zone, global's memory
//! and CPU, and the graph endpoint's latency over the whole mesh.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{Value, json};
use weft_e2e::fleet::{self, MESH};
use weft_e2e::process::{cpu_seconds, rss_kib};
use weft_e2e::wait_until;
use weft_sim::mesh::SyntheticMesh;
use weft_sim::zone::SimZone;

const SERVICES: usize = 500;
const EDGES: usize = 2_000;
/// Graph requests timed.
const GRAPH_SAMPLES: usize = 20;
/// How long global's CPU is measured while the zones report.
const TELEMETRY_WINDOW: Duration = Duration::from_secs(10);

pub fn measure(zones: usize, per_zone: usize) -> anyhow::Result<Value> {
    anyhow::ensure!(
        zones * per_zone >= SERVICES,
        "{zones} zones of {per_zone} dataplanes cannot host {SERVICES} services"
    );
    let work = tempfile::tempdir()?;
    let global = fleet::start_global(work.path());
    let api = global.api();
    let pid = global.process.pid().context("global's pid")?;
    let rss_idle = rss_kib(pid)?;
    let ca = std::fs::read_to_string(&global.upstream().ca_file)?;
    let mesh = SyntheticMesh::generate(MESH, SERVICES, EDGES, 42);
    let tokens: Vec<String> = (0..zones)
        .map(|zone| api.zone_token(&zone_name(zone)))
        .collect();
    let runtime = tokio::runtime::Runtime::new()?;
    let started = Instant::now();
    let cpu_before = cpu_seconds(pid)?;
    // Zones dial one after the other, as a fleet of zones does after a global restart; a
    // refused sync is dialled again after a second, as weft-zone does.
    let mut refused: Vec<String> = Vec::new();
    let sim_zones: Vec<SimZone> = runtime.block_on(async {
        let mut connected = Vec::with_capacity(zones);
        for (zone, token) in tokens.iter().enumerate() {
            let mut attempts = 0;
            let mut sim = loop {
                match SimZone::connect(&global.grpc_url(), &ca, token, &zone_name(zone)).await {
                    Ok(sim) => break sim,
                    Err(error) if attempts < 30 => {
                        attempts += 1;
                        refused.push(error);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                    Err(error) => anyhow::bail!("{} never connected: {error}", zone_name(zone)),
                }
            };
            let dataplanes: Vec<(String, String)> = (0..per_zone)
                .map(|index| mesh.instance(zone * per_zone + index))
                .collect();
            sim.register(MESH, &dataplanes)
                .await
                .map_err(anyhow::Error::msg)?;
            connected.push(sim);
        }
        anyhow::Ok(connected)
    })?;
    let others = (zones - 1) * per_zone;
    wait_until(
        "every zone holding every other zone's dataplanes",
        Duration::from_secs(900),
        || {
            sim_zones
                .iter()
                .all(|zone| zone.dataplanes_known() >= others)
                .then_some(())
        },
    );
    let converge_seconds = started.elapsed().as_secs_f64();
    let converge_cpu = cpu_seconds(pid)? - cpu_before;
    let rss_converged = rss_kib(pid)?;

    // Every edge is reported each second by one zone hosting its source service (global
    // accepts an edge only from a zone serving one of its ends).
    let instances_per_service = zones * per_zone / SERVICES;
    let reporter_of = |service: usize| -> usize {
        (service + SERVICES * (service % instances_per_service)) / per_zone
    };
    let reporters_of_edges: Vec<usize> = mesh
        .calls
        .iter()
        .map(|call| reporter_of(call.source))
        .collect();
    let sim_zones = std::sync::Arc::new(sim_zones);
    let reporters = {
        let sim_zones = sim_zones.clone();
        let mesh = mesh.clone();
        runtime.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let mut shares = vec![Vec::new(); sim_zones.len()];
                for (edge, stats) in mesh.one_second().into_iter().enumerate() {
                    shares[reporters_of_edges[edge]].push(stats);
                }
                for (sim, share) in sim_zones.iter().zip(shares) {
                    if !share.is_empty() && sim.report(MESH, share).await.is_err() {
                        return;
                    }
                }
            }
        })
    };

    // One write through the API: the time until it has arrived in every zone.
    let cpu_before = cpu_seconds(pid)?;
    let written = Instant::now();
    api.apply(
        &format!("/api/v1/meshes/{MESH}/ratelimits/everyone"),
        &format!(
            "apiVersion: weft.dev/v1alpha1\nkind: RateLimit\nmetadata: {{name: everyone, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  from:\n    - targetRef: {{kind: Mesh}}\n      default: {{requests: 1000, interval: 1s}}\n"
        ),
    );
    wait_until("the write in every zone", Duration::from_secs(120), || {
        sim_zones
            .iter()
            .all(|zone| zone.arrived("RateLimit", "everyone").is_some())
            .then_some(())
    });
    let write_cpu = cpu_seconds(pid)? - cpu_before;
    let mut arrivals: Vec<f64> = sim_zones
        .iter()
        .filter_map(|zone| zone.arrived("RateLimit", "everyone"))
        .map(|at| at.saturating_duration_since(written).as_secs_f64() * 1e3)
        .collect();
    arrivals.sort_by(f64::total_cmp);

    // The graph over the whole mesh, once every edge has reported.
    wait_until("every edge in the graph", Duration::from_secs(60), || {
        let (status, graph) = api.get(&format!("/api/v1/meshes/{MESH}/graph")).ok()?;
        (status == 200 && graph["edges"].as_array()?.len() == EDGES).then_some(())
    });
    // Global's CPU while it takes every zone's telemetry, nothing else asked of it.
    let cpu_before = cpu_seconds(pid)?;
    let telemetry_started = Instant::now();
    std::thread::sleep(TELEMETRY_WINDOW);
    let busy_cpu = cpu_seconds(pid)? - cpu_before;
    let busy_seconds = telemetry_started.elapsed().as_secs_f64();
    let mut graph_millis: Vec<f64> = Vec::with_capacity(GRAPH_SAMPLES);
    let mut graph_bytes = 0;
    for _ in 0..GRAPH_SAMPLES {
        let asked = Instant::now();
        let (_, text) = api
            .get_text(&format!("/api/v1/meshes/{MESH}/graph"))
            .context("the graph endpoint")?;
        graph_millis.push(asked.elapsed().as_secs_f64() * 1e3);
        graph_bytes = text.len();
    }
    graph_millis.sort_by(f64::total_cmp);
    let rss_end = rss_kib(pid)?;
    reporters.abort();
    drop(sim_zones);
    Ok(json!({
        "scenario": "federation",
        "zones": zones,
        "dataplanesPerZone": per_zone,
        "services": SERVICES,
        "edges": EDGES,
        "convergeSeconds": converge_seconds,
        "convergeCpuSeconds": converge_cpu,
        "syncsRefused": refused.len(),
        "firstRefusal": refused.first(),
        "writeToEveryZoneMs": {
            "p50": percentile(&arrivals, 50.0),
            "p99": percentile(&arrivals, 99.0),
            "max": percentile(&arrivals, 100.0),
        },
        "writeCpuSeconds": write_cpu,
        "globalRssKib": {"idle": rss_idle, "converged": rss_converged, "end": rss_end},
        "graphMs": {
            "p50": percentile(&graph_millis, 50.0),
            "p99": percentile(&graph_millis, 99.0),
        },
        "graphBytes": graph_bytes,
        "globalCpuPerSecondWithTelemetry": busy_cpu / busy_seconds.max(1e-9),
    }))
}

fn zone_name(index: usize) -> String {
    format!("zone-{index:02}")
}

/// The `p`th percentile of sorted `values` (nearest rank).
pub fn percentile(values: &[f64], p: f64) -> f64 {
    if values.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * values.len() as f64).ceil() as usize;
    values[rank.clamp(1, values.len()) - 1]
}
