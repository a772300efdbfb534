//! Per-edge telemetry: handles resolved once per config ([`Telemetry::edge`]), deltas sent to
//! the zone every second ([`Telemetry::take`]), and cumulative Prometheus metrics
//! ([`metrics`]).

pub mod edge;
pub mod metrics;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use weft_api::telemetry::{EdgeCounters, EdgeKey};

pub use edge::{EdgeStats, Outcome};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn label(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

struct Tracked {
    stats: Arc<EdgeStats>,
    /// Totals when the zone was last sent a delta.
    sent: EdgeCounters,
}

/// The edges of this proxy. Locked only when a config is compiled and once a second to flush,
/// never on the request path.
#[derive(Default)]
pub struct Telemetry {
    edges: Mutex<HashMap<(Direction, EdgeKey), Tracked>>,
}

impl Telemetry {
    /// The handle of one edge, shared by every config version that names it.
    pub fn edge(&self, direction: Direction, key: EdgeKey) -> Arc<EdgeStats> {
        let mut edges = self.lock();
        edges
            .entry((direction, key))
            .or_insert_with_key(|(direction, key)| Tracked {
                stats: Arc::new(EdgeStats::new(*direction, key.clone())),
                sent: EdgeCounters::default(),
            })
            .stats
            .clone()
    }

    /// The counts recorded since the last call, for the zone. Only traffic the graph counts is
    /// included: everything outbound, and inbound traffic that entered the mesh from outside.
    /// Edges no config refers to any more are dropped once their last counts are taken.
    pub fn take(&self) -> HashMap<EdgeKey, EdgeCounters> {
        let mut out: HashMap<EdgeKey, EdgeCounters> = HashMap::new();
        let mut edges = self.lock();
        edges.retain(|(direction, key), tracked| {
            let totals = tracked.stats.totals();
            let delta = edge::delta(&totals, &tracked.sent);
            tracked.sent = totals;
            let counted = *direction == Direction::Outbound || key.source_service.is_empty();
            if counted && (delta.requests > 0 || delta.retries > 0) {
                out.entry(key.clone()).or_default().merge(&delta);
            }
            Arc::strong_count(&tracked.stats) > 1
        });
        out
    }

    /// Every edge's cumulative counters, sorted, for `/metrics`.
    pub fn totals(&self) -> Vec<(Direction, EdgeKey, EdgeCounters)> {
        let edges = self.lock();
        let mut all: Vec<_> = edges
            .iter()
            .map(|((direction, key), tracked)| (*direction, key.clone(), tracked.stats.totals()))
            .collect();
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        all
    }

    pub fn encode(&self, extra: impl FnOnce(&mut metrics::Encoder)) -> String {
        let mut encoder = metrics::Encoder::default();
        metrics::edges(&mut encoder, &self.totals());
        extra(&mut encoder);
        encoder.finish()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(Direction, EdgeKey), Tracked>> {
        self.edges
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn take_returns_deltas_and_metrics_stay_cumulative() {
        let telemetry = Telemetry::default();
        let key = EdgeKey {
            source_service: "web".into(),
            destination_service: "catalog".into(),
            ..EdgeKey::default()
        };
        let edge = telemetry.edge(Direction::Outbound, key.clone());
        for status in [200, 502] {
            edge.record(&Outcome {
                status,
                latency: Duration::from_millis(3),
                ..Outcome::default()
            });
        }
        edge.add_retries(2);
        let first = telemetry.take();
        assert_eq!(first[&key].requests, 2);
        assert_eq!(first[&key].server_errors(), 1);
        assert_eq!(first[&key].retries, 2);
        assert!(telemetry.take().is_empty());
        let text = telemetry.encode(|_| {});
        assert!(
            text.contains(r#"weft_dp_requests_total{direction="outbound",source_service="web",source_version="",destination_service="catalog",destination_version="",status_class="5xx"} 1"#),
            "{text}"
        );
        assert!(text.contains("weft_dp_retries_total{"), "{text}");
        // Once no config holds the handle, the edge goes after its last delta.
        drop(edge);
        telemetry.take();
        assert!(telemetry.totals().is_empty());
    }

    #[test]
    fn inbound_traffic_from_the_mesh_is_left_to_the_source() {
        let telemetry = Telemetry::default();
        let from_mesh = EdgeKey {
            source_service: "web".into(),
            destination_service: "catalog".into(),
            ..EdgeKey::default()
        };
        let external = EdgeKey {
            destination_service: "web".into(),
            ..EdgeKey::default()
        };
        let outcome = Outcome {
            status: 200,
            ..Outcome::default()
        };
        let _a = telemetry.edge(Direction::Inbound, from_mesh.clone());
        _a.record(&outcome);
        let _b = telemetry.edge(Direction::Inbound, external.clone());
        _b.record(&outcome);
        let taken = telemetry.take();
        assert!(!taken.contains_key(&from_mesh));
        assert_eq!(taken[&external].requests, 1);
    }
}
