//! Counters of one edge (direction, source service/version → destination service/version) as
//! atomics: recording a request touches a handful of them and nothing else. Handles are
//! resolved once per config, so the request path never looks an edge up.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use weft_api::telemetry::{BUCKET_COUNT, EdgeCounters, EdgeKey, bucket_index};

use super::Direction;

/// What happened to one request, as the edge counts it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Outcome {
    pub status: u16,
    /// The response carried a failing gRPC status.
    pub grpc_error: bool,
    /// Time to response headers.
    pub latency: Duration,
    pub request_bytes: u64,
    pub response_bytes: u64,
    /// The request came or went over mTLS.
    pub mtls: bool,
}

pub struct EdgeStats {
    pub direction: Direction,
    pub key: EdgeKey,
    requests: AtomicU64,
    status_classes: [AtomicU64; 5],
    latency_buckets: [AtomicU64; BUCKET_COUNT],
    latency_sum_micros: AtomicU64,
    grpc_errors: AtomicU64,
    retries: AtomicU64,
    request_bytes: AtomicU64,
    response_bytes: AtomicU64,
    mtls_requests: AtomicU64,
    /// Requests refused by a TrafficPermission.
    denied: AtomicU64,
}

impl EdgeStats {
    pub fn new(direction: Direction, key: EdgeKey) -> EdgeStats {
        EdgeStats {
            direction,
            key,
            requests: AtomicU64::new(0),
            status_classes: Default::default(),
            latency_buckets: std::array::from_fn(|_| AtomicU64::new(0)),
            latency_sum_micros: AtomicU64::new(0),
            grpc_errors: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            request_bytes: AtomicU64::new(0),
            response_bytes: AtomicU64::new(0),
            mtls_requests: AtomicU64::new(0),
            denied: AtomicU64::new(0),
        }
    }

    pub fn add_denied(&self) {
        self.denied.fetch_add(1, Relaxed);
    }

    pub fn record(&self, outcome: &Outcome) {
        let micros = u64::try_from(outcome.latency.as_micros()).unwrap_or(u64::MAX);
        self.requests.fetch_add(1, Relaxed);
        if let Some(class) = (outcome.status / 100).checked_sub(1)
            && let Some(slot) = self.status_classes.get(usize::from(class))
        {
            slot.fetch_add(1, Relaxed);
        }
        self.latency_buckets[bucket_index(micros)].fetch_add(1, Relaxed);
        self.latency_sum_micros.fetch_add(micros, Relaxed);
        if outcome.grpc_error {
            self.grpc_errors.fetch_add(1, Relaxed);
        }
        if outcome.mtls {
            self.mtls_requests.fetch_add(1, Relaxed);
        }
        if outcome.request_bytes > 0 {
            self.request_bytes.fetch_add(outcome.request_bytes, Relaxed);
        }
        if outcome.response_bytes > 0 {
            self.response_bytes
                .fetch_add(outcome.response_bytes, Relaxed);
        }
    }

    pub fn add_retries(&self, retries: u64) {
        self.retries.fetch_add(retries, Relaxed);
    }

    /// Everything counted since the edge was created.
    pub fn totals(&self) -> EdgeCounters {
        let load = |counter: &AtomicU64| counter.load(Relaxed);
        EdgeCounters {
            requests: load(&self.requests),
            status_classes: std::array::from_fn(|i| load(&self.status_classes[i])),
            latency_buckets: std::array::from_fn(|i| load(&self.latency_buckets[i])),
            latency_sum_micros: load(&self.latency_sum_micros),
            mtls_requests: load(&self.mtls_requests),
            denied: load(&self.denied),
            grpc_errors: load(&self.grpc_errors),
            retries: load(&self.retries),
            request_bytes: load(&self.request_bytes),
            response_bytes: load(&self.response_bytes),
        }
    }
}

/// `now - before`, field by field (counters only grow).
pub fn delta(now: &EdgeCounters, before: &EdgeCounters) -> EdgeCounters {
    let sub = |a: u64, b: u64| a.saturating_sub(b);
    EdgeCounters {
        requests: sub(now.requests, before.requests),
        status_classes: std::array::from_fn(|i| {
            sub(now.status_classes[i], before.status_classes[i])
        }),
        latency_buckets: std::array::from_fn(|i| {
            sub(now.latency_buckets[i], before.latency_buckets[i])
        }),
        latency_sum_micros: sub(now.latency_sum_micros, before.latency_sum_micros),
        mtls_requests: sub(now.mtls_requests, before.mtls_requests),
        denied: sub(now.denied, before.denied),
        grpc_errors: sub(now.grpc_errors, before.grpc_errors),
        retries: sub(now.retries, before.retries),
        request_bytes: sub(now.request_bytes, before.request_bytes),
        response_bytes: sub(now.response_bytes, before.response_bytes),
    }
}
