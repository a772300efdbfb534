//! Telemetry on its way to global. Each proxy report is added, as it arrives, to one running
//! sum per mesh and edge; the uplink takes the sums twice a second and sends one report per
//! mesh with each edge once, however many proxies counted it. 10,000 proxies reporting every
//! second are a few hundred edges a second for global, the zone queues nothing per report, and
//! its memory is bounded by the number of distinct edges, not by the reports.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use weft_api::proto::TelemetryReport;
use weft_api::telemetry::{EdgeCounters, EdgeKey, from_proto, plausible, to_proto};

/// Distinct edges held between two takes at most (about 200 bytes each on the wire, far below
/// the message size limit); edges past it are dropped and counted.
pub const MAX_EDGES: usize = 20_000;

#[derive(Default)]
pub struct Telemetry {
    pending: Mutex<Pending>,
}

#[derive(Default)]
struct Pending {
    meshes: BTreeMap<String, HashMap<EdgeKey, EdgeCounters>>,
    edges: usize,
    reports: u64,
}

impl Telemetry {
    fn pending(&self) -> std::sync::MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds one proxy's report for `mesh` (the proxy's own mesh, whatever the report says);
    /// `services` are the proxy's own. Returns how many of its edges were dropped: those with
    /// neither end one of the proxy's services or a name longer than a DNS label (global would
    /// refuse them too), and those past [`MAX_EDGES`].
    pub fn add(&self, mesh: &str, services: &[String], report: &TelemetryReport) -> u64 {
        let mut pending = self.pending();
        pending.reports += 1;
        let mut dropped = 0;
        let mut added = 0;
        let held = pending.edges;
        let edges = match pending.meshes.get_mut(mesh) {
            Some(edges) => edges,
            None => pending.meshes.entry(mesh.to_string()).or_default(),
        };
        for stats in &report.edges {
            if !plausible(stats, |service| services.iter().any(|own| own == service)) {
                dropped += 1;
                continue;
            }
            let (key, counters) = from_proto(stats);
            if let Some(known) = edges.get_mut(&key) {
                known.merge(&counters);
            } else if held + added < MAX_EDGES {
                added += 1;
                edges.insert(key, counters);
            } else {
                dropped += 1;
            }
        }
        pending.edges += added;
        dropped
    }

    /// Everything added since the last take, summed: one report per mesh; and how many proxy
    /// reports it holds.
    pub fn take(&self) -> (Vec<TelemetryReport>, u64) {
        let pending = std::mem::take(&mut *self.pending());
        let reports = pending
            .meshes
            .into_iter()
            .map(|(mesh, edges)| TelemetryReport {
                mesh,
                edges: edges
                    .iter()
                    .map(|(key, counters)| to_proto(key, counters))
                    .collect(),
            })
            .collect();
        (reports, pending.reports)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::proto::EdgeStats;

    fn own() -> Vec<String> {
        vec!["web".to_string(), "teller".to_string()]
    }

    fn edge(source: &str, destination: &str, requests: u64) -> EdgeStats {
        EdgeStats {
            source_service: source.into(),
            destination_service: destination.into(),
            requests,
            responses_2xx: requests,
            latency_buckets: vec![requests],
            ..EdgeStats::default()
        }
    }

    fn report(edges: Vec<EdgeStats>) -> TelemetryReport {
        TelemetryReport {
            mesh: "claimed-by-the-proxy".into(),
            edges,
        }
    }

    #[test]
    fn reports_are_summed_per_mesh_and_edge_until_taken() {
        let telemetry = Telemetry::default();
        let web = report(vec![edge("web", "catalog", 3), edge("web", "orders", 1)]);
        assert_eq!(telemetry.add("shop", &own(), &web), 0);
        assert_eq!(
            telemetry.add("shop", &own(), &report(vec![edge("web", "catalog", 4)])),
            0
        );
        assert_eq!(
            telemetry.add("bank", &own(), &report(vec![edge("teller", "ledger", 2)])),
            0
        );
        let (merged, reports) = telemetry.take();
        assert_eq!(reports, 3);
        // The mesh is the one the zone names, never the one in the report.
        let meshes: Vec<&str> = merged.iter().map(|report| report.mesh.as_str()).collect();
        assert_eq!(meshes, ["bank", "shop"]);
        let shop = &merged[1];
        assert_eq!(shop.edges.len(), 2);
        let catalog = shop
            .edges
            .iter()
            .find(|edge| edge.destination_service == "catalog")
            .unwrap();
        assert_eq!((catalog.requests, catalog.responses_2xx), (7, 7));
        assert_eq!(catalog.latency_buckets[0], 7);
        // Taken: nothing is left.
        assert_eq!(telemetry.take(), (Vec::new(), 0));
    }

    #[test]
    fn only_edges_of_the_proxys_own_services_with_short_names_are_taken() {
        let telemetry = Telemetry::default();
        let long = "x".repeat(weft_api::telemetry::MAX_EDGE_NAME + 1);
        let report = report(vec![
            edge("web", "catalog", 1),
            edge("orders", "web", 1),
            edge("orders", "payments", 1),
            edge("web", &long, 1),
        ]);
        assert_eq!(telemetry.add("shop", &own(), &report), 2);
        let (merged, _) = telemetry.take();
        assert_eq!(merged[0].edges.len(), 2);
    }

    #[test]
    fn distinct_edges_past_the_limit_are_dropped() {
        let telemetry = Telemetry::default();
        let many: Vec<EdgeStats> = (0..MAX_EDGES + 5)
            .map(|index| edge("web", &format!("svc-{index}"), 1))
            .collect();
        assert_eq!(telemetry.add("shop", &own(), &report(many)), 5);
        // A known edge still adds up; a new one is dropped.
        assert_eq!(
            telemetry.add("shop", &own(), &report(vec![edge("web", "svc-0", 1)])),
            0
        );
        assert_eq!(
            telemetry.add("shop", &own(), &report(vec![edge("web", "new", 1)])),
            1
        );
        let (merged, _) = telemetry.take();
        assert_eq!(merged[0].edges.len(), MAX_EDGES);
    }
}
