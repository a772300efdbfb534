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

/// (mesh, second) → counters received by this replica, not yet shared with the others.
type Outbox = HashMap<(String, u64), HashMap<EdgeKey, EdgeCounters>>;

#[derive(Default)]
pub struct TrafficWindow {
    meshes: Mutex<HashMap<String, VecDeque<Second>>>,
    /// Present when replicas share telemetry through the store.
    outbox: Option<Mutex<Outbox>>,
    /// Endpoint health from the zones, shown with the services.
    pub health: super::HealthBoard,
    /// The proxies' sessions as their zones report them, shown with the dataplanes.
    pub insights: super::InsightBoard,
}

impl TrafficWindow {
    pub fn new() -> Self {
        Self::default()
    }

    /// A window whose own telemetry is also kept for sharing with other replicas
    /// (`take_finished`).
    pub fn sharing() -> Self {
        TrafficWindow {
            outbox: Some(Mutex::default()),
            ..Self::default()
        }
    }

    /// Adds counters this replica received at unix second `now`.
    pub fn record(
        &self,
        mesh: &str,
        now: u64,
        edges: impl IntoIterator<Item = (EdgeKey, EdgeCounters)>,
    ) {
        match &self.outbox {
            Some(outbox) => {
                let edges: Vec<_> = edges.into_iter().collect();
                let mut outbox = outbox
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                let bucket = outbox.entry((mesh.to_string(), now)).or_default();
                add(
                    bucket,
                    edges.iter().map(|(key, counters)| (key.clone(), counters)),
                );
                drop(outbox);
                self.record_shared(mesh, now, edges);
            }
            None => self.record_shared(mesh, now, edges),
        }
    }

    /// Adds counters of unix second `at`, received by another replica.
    pub fn record_shared(
        &self,
        mesh: &str,
        at: u64,
        edges: impl IntoIterator<Item = (EdgeKey, EdgeCounters)>,
    ) {
        let mut meshes = self
            .meshes
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let seconds = meshes.entry(mesh.to_string()).or_default();
        let newest = seconds.back().map_or(at, |last| last.at.max(at));
        if at + RETENTION_SECONDS <= newest {
            return;
        }
        // Seconds are kept in order; a second arrives late only by a moment, so look from the back.
        let position = seconds.iter().rposition(|second| second.at <= at);
        let index = match position {
            Some(index) if seconds[index].at == at => index,
            Some(index) => {
                seconds.insert(
                    index + 1,
                    Second {
                        at,
                        edges: HashMap::new(),
                    },
                );
                index + 1
            }
            None => {
                seconds.push_front(Second {
                    at,
                    edges: HashMap::new(),
                });
                0
            }
        };
        let edges: Vec<_> = edges.into_iter().collect();
        add(
            &mut seconds[index].edges,
            edges.iter().map(|(key, counters)| (key.clone(), counters)),
        );
        while seconds
            .front()
            .is_some_and(|first| first.at + RETENTION_SECONDS <= newest)
        {
            seconds.pop_front();
        }
    }

    /// This replica's counters of the seconds before `now`, once each: (mesh, second, edges).
    pub fn take_finished(&self, now: u64) -> Vec<(String, u64, HashMap<EdgeKey, EdgeCounters>)> {
        let Some(outbox) = &self.outbox else {
            return Vec::new();
        };
        let mut outbox = outbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let finished: Vec<(String, u64)> = outbox
            .keys()
            .filter(|(_, second)| *second < now)
            .cloned()
            .collect();
        let mut taken: Vec<_> = finished
            .into_iter()
            .filter_map(|key| {
                let edges = outbox.remove(&key)?;
                Some((key.0, key.1, edges))
            })
            .collect();
        taken.sort_by(|a, b| (a.1, &a.0).cmp(&(b.1, &b.0)));
        taken
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

/// Merges `edges` into one second's counters, within the cap on distinct edges.
fn add<'a>(
    bucket: &mut HashMap<EdgeKey, EdgeCounters>,
    edges: impl IntoIterator<Item = (EdgeKey, &'a EdgeCounters)>,
) {
    for (key, counters) in edges {
        if bucket.len() >= MAX_EDGES_PER_SECOND && !bucket.contains_key(&key) {
            continue;
        }
        bucket.entry(key).or_default().merge(counters);
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
    fn shared_seconds_land_in_their_own_bucket_and_are_taken_once() {
        let window = TrafficWindow::sharing();
        window.record("shop", 100, [(edge("web", "catalog"), requests(2))]);
        window.record("shop", 102, [(edge("web", "catalog"), requests(3))]);
        // Another replica's second 101 arrives after 102 and goes between them.
        window.record_shared("shop", 101, [(edge("web", "orders"), requests(4))]);
        window.record_shared("shop", 100, [(edge("web", "catalog"), requests(1))]);
        assert_eq!(
            window.window("shop", 101, 1)[&edge("web", "orders")].requests,
            4
        );
        assert_eq!(
            window.window("shop", 100, 1)[&edge("web", "catalog")].requests,
            3
        );
        assert_eq!(
            window.window("shop", 102, 3)[&edge("web", "catalog")].requests,
            6
        );
        // Only this replica's own seconds are shared, finished ones only, each once.
        let taken = window.take_finished(102);
        assert_eq!(taken.len(), 1);
        assert_eq!(
            (taken[0].1, taken[0].2[&edge("web", "catalog")].requests),
            (100, 2)
        );
        assert!(window.take_finished(102).is_empty());
        assert_eq!(window.take_finished(103)[0].1, 102);
        // A window that does not share keeps nothing aside.
        let alone = TrafficWindow::new();
        alone.record("shop", 100, [(edge("a", "b"), requests(1))]);
        assert!(alone.take_finished(200).is_empty());
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
