//! Per-edge traffic counters: what proxies count, zones forward and global aggregates.

use serde::{Deserialize, Serialize};

/// Upper bounds of the latency buckets in microseconds; one overflow bucket follows.
pub const LATENCY_BUCKETS_MICROS: [u64; 16] = [
    250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000, 30_000_000,
];
pub const BUCKET_COUNT: usize = LATENCY_BUCKETS_MICROS.len() + 1;

/// Source service/version to destination service/version. Empty versions mean "none".
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EdgeKey {
    pub source_service: String,
    pub source_version: String,
    pub destination_service: String,
    pub destination_version: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EdgeCounters {
    pub requests: u64,
    /// Responses by status class: index 0 is 1xx, 4 is 5xx.
    pub status_classes: [u64; 5],
    pub latency_buckets: [u64; BUCKET_COUNT],
    pub latency_sum_micros: u64,
    /// Requests carried over mTLS (the rest were plaintext).
    #[serde(default)]
    pub mtls_requests: u64,
    /// Responses with a failing gRPC status, whatever their HTTP status.
    #[serde(default)]
    pub grpc_errors: u64,
    /// Attempts beyond the first made by retries.
    #[serde(default)]
    pub retries: u64,
    #[serde(default)]
    pub request_bytes: u64,
    #[serde(default)]
    pub response_bytes: u64,
    /// Requests a TrafficPermission refused.
    #[serde(default)]
    pub denied: u64,
}

impl Default for EdgeCounters {
    fn default() -> Self {
        EdgeCounters {
            requests: 0,
            status_classes: [0; 5],
            latency_buckets: [0; BUCKET_COUNT],
            latency_sum_micros: 0,
            mtls_requests: 0,
            grpc_errors: 0,
            retries: 0,
            request_bytes: 0,
            response_bytes: 0,
            denied: 0,
        }
    }
}

/// Index of the bucket a latency falls in.
pub fn bucket_index(micros: u64) -> usize {
    LATENCY_BUCKETS_MICROS
        .iter()
        .position(|bound| micros <= *bound)
        .unwrap_or(LATENCY_BUCKETS_MICROS.len())
}

impl EdgeCounters {
    pub fn record(&mut self, status: u16, micros: u64) {
        self.requests += 1;
        if let Some(class) = (status / 100).checked_sub(1)
            && let Some(slot) = self.status_classes.get_mut(usize::from(class))
        {
            *slot += 1;
        }
        self.latency_buckets[bucket_index(micros)] += 1;
        self.latency_sum_micros = self.latency_sum_micros.saturating_add(micros);
    }

    pub fn merge(&mut self, other: &EdgeCounters) {
        self.requests = self.requests.saturating_add(other.requests);
        for (mine, theirs) in self.status_classes.iter_mut().zip(other.status_classes) {
            *mine = mine.saturating_add(theirs);
        }
        for (mine, theirs) in self.latency_buckets.iter_mut().zip(other.latency_buckets) {
            *mine = mine.saturating_add(theirs);
        }
        self.latency_sum_micros = self
            .latency_sum_micros
            .saturating_add(other.latency_sum_micros);
        self.mtls_requests = self.mtls_requests.saturating_add(other.mtls_requests);
        self.grpc_errors = self.grpc_errors.saturating_add(other.grpc_errors);
        self.retries = self.retries.saturating_add(other.retries);
        self.request_bytes = self.request_bytes.saturating_add(other.request_bytes);
        self.response_bytes = self.response_bytes.saturating_add(other.response_bytes);
        self.denied = self.denied.saturating_add(other.denied);
    }

    pub fn server_errors(&self) -> u64 {
        self.status_classes[4]
    }

    /// Failed requests: 5xx responses and gRPC errors (a gRPC error usually comes with HTTP 200).
    pub fn failures(&self) -> u64 {
        self.server_errors().saturating_add(self.grpc_errors)
    }

    /// Latency at quantile `q` (0.0 to 1.0) in microseconds, interpolated inside its bucket;
    /// `None` when nothing was recorded.
    pub fn quantile_micros(&self, q: f64) -> Option<f64> {
        // Counters come from the network: add without overflowing.
        let total = self
            .latency_buckets
            .iter()
            .fold(0u64, |sum, count| sum.saturating_add(*count));
        if total == 0 {
            return None;
        }
        let rank = (q.clamp(0.0, 1.0) * total as f64).max(1.0);
        let mut seen = 0u64;
        for (position, count) in self.latency_buckets.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            let before = seen as f64;
            seen = seen.saturating_add(*count);
            if seen as f64 >= rank {
                let lower = if position == 0 {
                    0
                } else {
                    LATENCY_BUCKETS_MICROS[position - 1]
                } as f64;
                let upper = LATENCY_BUCKETS_MICROS
                    .get(position)
                    .copied()
                    .unwrap_or(LATENCY_BUCKETS_MICROS[LATENCY_BUCKETS_MICROS.len() - 1])
                    as f64;
                let within = (rank - before) / *count as f64;
                return Some(lower + (upper - lower) * within);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_status_classes_and_buckets() {
        let mut counters = EdgeCounters::default();
        counters.record(200, 100);
        counters.record(503, 3_000);
        counters.record(999, 40_000_000);
        assert_eq!(counters.requests, 3);
        assert_eq!(counters.status_classes, [0, 1, 0, 0, 1]);
        assert_eq!(counters.latency_buckets[0], 1);
        assert_eq!(counters.latency_buckets[4], 1);
        assert_eq!(counters.latency_buckets[BUCKET_COUNT - 1], 1);
    }

    #[test]
    fn quantiles_interpolate_within_buckets() {
        let mut counters = EdgeCounters::default();
        assert_eq!(counters.quantile_micros(0.99), None);
        for _ in 0..99 {
            counters.record(200, 200);
        }
        counters.record(200, 90_000);
        let p50 = counters.quantile_micros(0.5).unwrap();
        assert!(p50 <= 250.0, "{p50}");
        let p100 = counters.quantile_micros(1.0).unwrap();
        assert!(p100 > 50_000.0 && p100 <= 100_000.0, "{p100}");
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = EdgeCounters::default();
        a.record(200, 10);
        let mut b = EdgeCounters::default();
        b.record(500, 10);
        a.merge(&b);
        assert_eq!(a.requests, 2);
        assert_eq!(a.server_errors(), 1);
    }
}

#[cfg(feature = "grpc")]
mod wire {
    use super::{BUCKET_COUNT, EdgeCounters, EdgeKey};
    use crate::proto::EdgeStats;

    /// Longest service or version name an edge may carry (a DNS label or a tag value).
    pub const MAX_EDGE_NAME: usize = 63;

    /// Whether a reporter that serves the services `serves` accepts may report `edge`: one end
    /// is one of its services (it counts what it sends and what it receives), and every name
    /// is short. Zones ask it of each proxy's edges, global of each zone's.
    pub fn plausible(edge: &EdgeStats, serves: impl Fn(&str) -> bool) -> bool {
        let short = [
            &edge.source_service,
            &edge.source_version,
            &edge.destination_service,
            &edge.destination_version,
        ]
        .iter()
        .all(|name| name.len() <= MAX_EDGE_NAME);
        short && (serves(&edge.source_service) || serves(&edge.destination_service))
    }

    /// Converts counters to their protobuf form.
    pub fn to_proto(key: &EdgeKey, counters: &EdgeCounters) -> EdgeStats {
        EdgeStats {
            source_service: key.source_service.clone(),
            source_version: key.source_version.clone(),
            destination_service: key.destination_service.clone(),
            destination_version: key.destination_version.clone(),
            requests: counters.requests,
            responses_1xx: counters.status_classes[0],
            responses_2xx: counters.status_classes[1],
            responses_3xx: counters.status_classes[2],
            responses_4xx: counters.status_classes[3],
            responses_5xx: counters.status_classes[4],
            latency_buckets: counters.latency_buckets.to_vec(),
            latency_sum_micros: counters.latency_sum_micros,
            mtls_requests: counters.mtls_requests,
            grpc_errors: counters.grpc_errors,
            retries: counters.retries,
            request_bytes: counters.request_bytes,
            response_bytes: counters.response_bytes,
            denied: counters.denied,
        }
    }

    /// Converts received stats; extra buckets beyond the known ones are added to the overflow bucket.
    pub fn from_proto(stats: &EdgeStats) -> (EdgeKey, EdgeCounters) {
        let key = EdgeKey {
            source_service: stats.source_service.clone(),
            source_version: stats.source_version.clone(),
            destination_service: stats.destination_service.clone(),
            destination_version: stats.destination_version.clone(),
        };
        let mut latency_buckets = [0u64; BUCKET_COUNT];
        for (position, count) in stats.latency_buckets.iter().enumerate() {
            let slot = position.min(BUCKET_COUNT - 1);
            latency_buckets[slot] = latency_buckets[slot].saturating_add(*count);
        }
        let counters = EdgeCounters {
            requests: stats.requests,
            status_classes: [
                stats.responses_1xx,
                stats.responses_2xx,
                stats.responses_3xx,
                stats.responses_4xx,
                stats.responses_5xx,
            ],
            latency_buckets,
            latency_sum_micros: stats.latency_sum_micros,
            mtls_requests: stats.mtls_requests,
            grpc_errors: stats.grpc_errors,
            retries: stats.retries,
            request_bytes: stats.request_bytes,
            response_bytes: stats.response_bytes,
            denied: stats.denied,
        };
        (key, counters)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn round_trips() {
            let key = EdgeKey {
                source_service: "web".into(),
                destination_service: "catalog".into(),
                ..Default::default()
            };
            let mut counters = EdgeCounters::default();
            counters.record(200, 900);
            counters.record(503, 90_000);
            counters.grpc_errors = 1;
            counters.retries = 2;
            counters.request_bytes = 3;
            counters.response_bytes = 4;
            assert_eq!(from_proto(&to_proto(&key, &counters)), (key, counters));
        }
    }
}

#[cfg(feature = "grpc")]
pub use wire::{MAX_EDGE_NAME, from_proto, plausible, to_proto};
