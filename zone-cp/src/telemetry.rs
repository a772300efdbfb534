//! Telemetry on its way to global: the reports the proxies sent since the last message are
//! summed per mesh and edge, so global receives one report per mesh with each edge once, however
//! many proxies counted it (10,000 proxies reporting every second are a few hundred edges a
//! second for global, not 10,000 reports).

use std::collections::{BTreeMap, HashMap};

use weft_api::proto::TelemetryReport;
use weft_api::telemetry::{EdgeCounters, EdgeKey, from_proto, to_proto};

/// Distinct edges one message carries at most (about 200 bytes each, far below the message
/// size limit); edges past it are dropped and counted.
pub const MAX_EDGES: usize = 20_000;

/// `reports` summed: one report per mesh, each edge once; and how many edges were dropped
/// because the message already held [`MAX_EDGES`].
pub fn merge(reports: Vec<TelemetryReport>) -> (Vec<TelemetryReport>, u64) {
    let mut meshes: BTreeMap<String, HashMap<EdgeKey, EdgeCounters>> = BTreeMap::new();
    let mut distinct = 0;
    let mut dropped = 0;
    for report in reports {
        let edges = meshes.entry(report.mesh).or_default();
        for stats in &report.edges {
            let (key, counters) = from_proto(stats);
            if let Some(known) = edges.get_mut(&key) {
                known.merge(&counters);
            } else if distinct < MAX_EDGES {
                distinct += 1;
                edges.insert(key, counters);
            } else {
                dropped += 1;
            }
        }
    }
    let merged = meshes
        .into_iter()
        .map(|(mesh, edges)| TelemetryReport {
            mesh,
            edges: edges
                .iter()
                .map(|(key, counters)| to_proto(key, counters))
                .collect(),
        })
        .collect();
    (merged, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::proto::EdgeStats;

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

    #[test]
    fn reports_are_summed_per_mesh_and_edge() {
        let report = |mesh: &str, edges| TelemetryReport {
            mesh: mesh.into(),
            edges,
        };
        let (merged, dropped) = merge(vec![
            report(
                "shop",
                vec![edge("web", "catalog", 3), edge("web", "orders", 1)],
            ),
            report("shop", vec![edge("web", "catalog", 4)]),
            report("bank", vec![edge("teller", "ledger", 2)]),
        ]);
        assert_eq!((merged.len(), dropped), (2, 0));
        assert_eq!(merged[0].mesh, "bank");
        let shop = &merged[1];
        let catalog = shop
            .edges
            .iter()
            .find(|edge| edge.destination_service == "catalog")
            .unwrap();
        assert_eq!((catalog.requests, catalog.responses_2xx), (7, 7));
        assert_eq!(catalog.latency_buckets[0], 7);
        assert_eq!(shop.edges.len(), 2);
    }
}
