//! Per-mesh ring of one-second buckets of edge counters.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use weft_api::telemetry::{EdgeCounters, EdgeKey};

/// Seconds of history kept per mesh.
pub const RETENTION_SECONDS: u64 = 900;

/// Distinct edges kept per mesh and second; more are dropped, so no zone can grow the window
/// without bound.
pub const MAX_EDGES_PER_SECOND: usize = 10_000;

struct Second {
    at: u64,
    edges: HashMap<EdgeKey, EdgeCounters>,
}

#[derive(Default)]
pub struct TrafficWindow {
    meshes: Mutex<HashMap<String, VecDeque<Second>>>,
    /// Endpoint health from the zones, shown with the services.
    pub health: super::HealthBoard,
    /// The proxies' sessions as their zones report them, shown with the dataplanes.
    pub insights: super::InsightBoard,
}

impl TrafficWindow {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds counters received at unix second `now`.
    pub fn record(
        &self,
        mesh: &str,
        now: u64,
        edges: impl IntoIterator<Item = (EdgeKey, EdgeCounters)>,
    ) {
        let mut meshes = self
            .meshes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seconds = meshes.entry(mesh.to_string()).or_default();
        if seconds.back().is_none_or(|last| last.at < now) {
            seconds.push_back(Second {
                at: now,
                edges: HashMap::new(),
            });
        }
        // Late reports (clock moved back) land in the newest bucket rather than being lost.
        let Some(bucket) = seconds.back_mut() else {
            return;
        };
        for (key, counters) in edges {
            if bucket.edges.len() >= MAX_EDGES_PER_SECOND && !bucket.edges.contains_key(&key) {
                continue;
            }
            bucket.edges.entry(key).or_default().merge(&counters);
        }
        while seconds
            .front()
            .is_some_and(|first| first.at + RETENTION_SECONDS <= now)
        {
            seconds.pop_front();
        }
    }

    /// Sum of the counters of the last `window` seconds up to and including `now`.
    pub fn window(&self, mesh: &str, now: u64, window: u64) -> HashMap<EdgeKey, EdgeCounters> {
        let meshes = self
            .meshes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut total: HashMap<EdgeKey, EdgeCounters> = HashMap::new();
        if let Some(seconds) = meshes.get(mesh) {
            for second in seconds
                .iter()
                .rev()
                // Seconds after `now` (a replay of the past) are not part of its window.
                .skip_while(|second| second.at > now)
                .take_while(|second| second.at + window > now)
            {
                for (key, counters) in &second.edges {
                    total.entry(key.clone()).or_default().merge(counters);
                }
            }
        }
        total
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn edge(source: &str, destination: &str) -> EdgeKey {
        EdgeKey {
            source_service: source.into(),
            destination_service: destination.into(),
            ..EdgeKey::default()
        }
    }

    fn requests(count: u64) -> EdgeCounters {
        let mut counters = EdgeCounters::default();
        for _ in 0..count {
            counters.record(200, 1_000);
        }
        counters
    }

    #[test]
    fn sums_only_the_window() {
        let window = TrafficWindow::new();
        window.record("shop", 100, [(edge("web", "catalog"), requests(5))]);
        window.record("shop", 101, [(edge("web", "catalog"), requests(7))]);
        window.record("shop", 101, [(edge("web", "orders"), requests(1))]);
        window.record("other", 101, [(edge("a", "b"), requests(9))]);
        let last_two = window.window("shop", 101, 2);
        assert_eq!(last_two[&edge("web", "catalog")].requests, 12);
        assert_eq!(last_two[&edge("web", "orders")].requests, 1);
        let last_one = window.window("shop", 101, 1);
        assert_eq!(last_one[&edge("web", "catalog")].requests, 7);
        assert!(window.window("shop", 200, 60).is_empty());
        assert!(window.window("missing", 101, 60).is_empty());
        // A window ending in the past leaves out what came after it.
        let past = window.window("shop", 100, 1);
        assert_eq!(past[&edge("web", "catalog")].requests, 5);
        assert!(!past.contains_key(&edge("web", "orders")));
    }

    #[test]
    fn edges_per_second_are_capped_and_counters_saturate() {
        let window = TrafficWindow::new();
        let many =
            (0..MAX_EDGES_PER_SECOND + 50).map(|n| (edge(&format!("s{n}"), "d"), requests(1)));
        window.record("shop", 10, many);
        assert_eq!(window.window("shop", 10, 1).len(), MAX_EDGES_PER_SECOND);
        let mut huge = requests(1);
        huge.requests = u64::MAX;
        huge.latency_buckets = [u64::MAX; weft_api::telemetry::BUCKET_COUNT];
        window.record(
            "shop",
            11,
            [(edge("a", "b"), huge.clone()), (edge("a", "b"), huge)],
        );
        let total = window.window("shop", 11, 1);
        let counters = &total[&edge("a", "b")];
        assert_eq!(counters.requests, u64::MAX);
        // Quantiles of saturated buckets are still a number, not a panic.
        assert!(counters.quantile_micros(0.99).is_some());
    }

    #[test]
    fn forgets_old_seconds() {
        let window = TrafficWindow::new();
        window.record("shop", 1, [(edge("a", "b"), requests(1))]);
        window.record(
            "shop",
            1 + RETENTION_SECONDS,
            [(edge("a", "b"), requests(1))],
        );
        let all = window.window("shop", 1 + RETENTION_SECONDS, RETENTION_SECONDS * 2);
        assert_eq!(all[&edge("a", "b")].requests, 1);
    }
}
