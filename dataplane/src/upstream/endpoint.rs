//! One upstream endpoint as the proxy tracks it: its address and identity, its edge counters,
//! and the live state the balancer reads (requests in flight, latency estimate, health from
//! active checks, outlier ejection). The state outlives config versions: an endpoint that stays
//! in the config keeps its health, ejection and latency history.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use http::uri::Authority;
use weft_api::telemetry::EdgeKey;

use crate::clock;
use crate::telemetry::{Direction, EdgeStats, Telemetry};

pub struct Endpoint {
    pub address: SocketAddr,
    /// `address` as a URI authority, parsed once.
    pub authority: Authority,
    pub service: String,
    pub version: String,
    pub zone: Option<String>,
    pub dataplane: String,
    pub edge: Arc<EdgeStats>,
    pub in_flight: AtomicU64,
    pub latency: PeakEwma,
    /// Active health checks say so (true until a check says otherwise).
    pub healthy: AtomicBool,
    pub outlier: OutlierState,
}

impl Endpoint {
    pub fn new(spec: &EndpointSpec<'_>, edge: Arc<EdgeStats>) -> Endpoint {
        Endpoint {
            address: spec.address,
            authority: Authority::try_from(spec.address.to_string().as_str())
                .unwrap_or_else(|_| Authority::from_static("0.0.0.0:0")),
            service: spec.service.to_string(),
            version: spec.version.to_string(),
            zone: spec.zone.map(str::to_string),
            dataplane: spec.dataplane.to_string(),
            edge,
            in_flight: AtomicU64::new(0),
            latency: PeakEwma::default(),
            healthy: AtomicBool::new(true),
            outlier: OutlierState::default(),
        }
    }

    /// Healthy and not ejected.
    pub fn available(&self, now_nanos: u64) -> bool {
        self.healthy.load(Relaxed) && !self.outlier.is_ejected(now_nanos)
    }

    /// `catalog at 127.0.0.1:8080`, for messages.
    pub fn describe(&self) -> String {
        format!("{} at {}", self.service, self.address)
    }
}

/// Consecutive failures and ejection of one endpoint.
#[derive(Default)]
pub struct OutlierState {
    pub consecutive_failures: AtomicU32,
    /// Clock nanos until which the endpoint is ejected; 0 when it is not.
    pub ejected_until: AtomicU64,
    /// How many times it was ejected (the ejection time grows with it).
    pub ejections: AtomicU32,
    /// When it last came back, to forget old ejections after a healthy while.
    pub returned_at: AtomicU64,
}

impl OutlierState {
    pub fn is_ejected(&self, now_nanos: u64) -> bool {
        self.ejected_until.load(Relaxed) > now_nanos
    }
}

/// Peak-sensitive exponentially weighted moving average of response latency (linkerd's
/// "PeakEWMA"): a slow response raises the estimate at once, fast ones lower it gradually.
pub struct PeakEwma {
    /// f64 nanoseconds, as bits.
    estimate: AtomicU64,
    stamp: AtomicU64,
}

/// How fast old latency observations fade.
pub const EWMA_DECAY: Duration = Duration::from_secs(10);
/// Estimate before anything was observed.
const DEFAULT_RTT: Duration = Duration::from_millis(1);

impl Default for PeakEwma {
    fn default() -> Self {
        PeakEwma {
            estimate: AtomicU64::new((clock::nanos(DEFAULT_RTT) as f64).to_bits()),
            stamp: AtomicU64::new(clock::now_nanos()),
        }
    }
}

impl PeakEwma {
    pub fn observe(&self, rtt: Duration, now_nanos: u64) {
        let rtt = clock::nanos(rtt) as f64;
        let previous = f64::from_bits(self.estimate.load(Relaxed));
        let elapsed = now_nanos.saturating_sub(self.stamp.swap(now_nanos, Relaxed)) as f64;
        let next = if rtt > previous {
            rtt
        } else {
            let weight = (-elapsed / clock::nanos(EWMA_DECAY) as f64).exp();
            previous * weight + rtt * (1.0 - weight)
        };
        self.estimate.store(next.to_bits(), Relaxed);
    }

    /// Expected cost of sending one more request: latency estimate × (requests in flight + 1).
    pub fn cost(&self, in_flight: u64) -> f64 {
        f64::from_bits(self.estimate.load(Relaxed)) * (in_flight + 1) as f64
    }
}

/// Endpoint state kept across config versions, keyed by address and edge.
#[derive(Default)]
pub struct Endpoints {
    known: Mutex<HashMap<(SocketAddr, EdgeKey), Arc<Endpoint>>>,
}

/// What a config says about an endpoint.
pub struct EndpointSpec<'a> {
    pub address: SocketAddr,
    pub service: &'a str,
    pub version: &'a str,
    pub zone: Option<&'a str>,
    pub dataplane: &'a str,
}

impl Endpoints {
    /// The endpoint for `spec` as seen from a proxy reporting as `source` (service, version).
    pub fn get(
        &self,
        telemetry: &Telemetry,
        source: (&str, &str),
        spec: &EndpointSpec<'_>,
    ) -> Arc<Endpoint> {
        let key = EdgeKey {
            source_service: source.0.to_string(),
            source_version: source.1.to_string(),
            destination_service: spec.service.to_string(),
            destination_version: spec.version.to_string(),
        };
        let mut known = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = known.entry((spec.address, key.clone())).or_insert_with(|| {
            Arc::new(Endpoint::new(
                spec,
                telemetry.edge(Direction::Outbound, key),
            ))
        });
        if entry.zone.as_deref() != spec.zone || entry.dataplane != spec.dataplane {
            // Same address, moved to another dataplane or zone: start over.
            *entry = Arc::new(Endpoint::new(spec, entry.edge.clone()));
        }
        entry.clone()
    }

    /// Forgets endpoints no config refers to any more.
    pub fn retain_used(&self) {
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|_, endpoint| Arc::strong_count(endpoint) > 1);
    }

    /// Every endpoint still in use, sorted by service and address.
    pub fn all(&self) -> Vec<Arc<Endpoint>> {
        let mut all: Vec<Arc<Endpoint>> = self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect();
        all.sort_by(|a, b| (&a.service, a.address).cmp(&(&b.service, b.address)));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peak_ewma_jumps_up_and_decays_down() {
        let ewma = PeakEwma::default();
        let start = clock::now_nanos();
        ewma.observe(Duration::from_millis(100), start);
        assert!((ewma.cost(0) - 100e6).abs() < 1.0);
        // A fast response right after barely moves the estimate…
        ewma.observe(Duration::from_millis(1), start + 1_000);
        assert!(ewma.cost(0) > 99e6);
        // …but after a long quiet time it counts almost fully.
        ewma.observe(
            Duration::from_millis(1),
            start + clock::nanos(Duration::from_secs(60)),
        );
        assert!(ewma.cost(0) < 2e6, "{}", ewma.cost(0));
        assert!(ewma.cost(3) > ewma.cost(0) * 3.9);
    }
}
