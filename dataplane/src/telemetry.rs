//! Per-edge counters: a delta map flushed to the zone every second, and cumulative
//! Prometheus metrics on the admin port for users who scrape proxies.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use weft_api::telemetry::{EdgeCounters, EdgeKey, LATENCY_BUCKETS_MICROS};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    pub direction: &'static str,
    pub source_service: String,
    pub source_version: String,
    pub destination_service: String,
    pub destination_version: String,
    pub status_class: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LatencyLabels {
    pub direction: &'static str,
    pub destination_service: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    fn label(self) -> &'static str {
        match self {
            Direction::Inbound => "inbound",
            Direction::Outbound => "outbound",
        }
    }
}

fn status_class(status: u16) -> &'static str {
    match status / 100 {
        1 => "1xx",
        2 => "2xx",
        3 => "3xx",
        4 => "4xx",
        _ => "5xx",
    }
}

pub struct Telemetry {
    pending: Mutex<HashMap<EdgeKey, EdgeCounters>>,
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<LatencyLabels, Histogram>,
}

impl Default for Telemetry {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("weft_dp");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register(
            "requests",
            "Requests proxied, by edge and response status class",
            requests.clone(),
        );
        let latency = Family::<LatencyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(
                LATENCY_BUCKETS_MICROS
                    .iter()
                    .map(|micros| *micros as f64 / 1_000_000.0),
            )
        });
        registry.register(
            "request_duration_seconds",
            "Time to response headers",
            latency.clone(),
        );
        Telemetry {
            pending: Mutex::default(),
            registry,
            requests,
            latency,
        }
    }
}

impl Telemetry {
    pub fn record(&self, direction: Direction, key: EdgeKey, status: u16, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.latency
            .get_or_create(&LatencyLabels {
                direction: direction.label(),
                destination_service: key.destination_service.clone(),
            })
            .observe(elapsed.as_secs_f64());
        self.requests
            .get_or_create(&RequestLabels {
                direction: direction.label(),
                source_service: key.source_service.clone(),
                source_version: key.source_version.clone(),
                destination_service: key.destination_service.clone(),
                destination_version: key.destination_version.clone(),
                status_class: status_class(status),
            })
            .inc();
        let mut pending = self
            .pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        pending.entry(key).or_default().record(status, micros);
    }

    /// Takes the counts recorded since the last call.
    pub fn take(&self) -> HashMap<EdgeKey, EdgeCounters> {
        std::mem::take(
            &mut *self
                .pending
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner()),
        )
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn take_returns_deltas_and_metrics_stay_cumulative() {
        let telemetry = Telemetry::default();
        let key = EdgeKey {
            source_service: "web".into(),
            destination_service: "catalog".into(),
            ..EdgeKey::default()
        };
        telemetry.record(
            Direction::Outbound,
            key.clone(),
            200,
            Duration::from_millis(3),
        );
        telemetry.record(
            Direction::Outbound,
            key.clone(),
            502,
            Duration::from_millis(1),
        );
        let first = telemetry.take();
        assert_eq!(first[&key].requests, 2);
        assert_eq!(first[&key].server_errors(), 1);
        assert!(telemetry.take().is_empty());
        let text = telemetry.encode();
        assert!(
            text.contains(r#"weft_dp_requests_total{direction="outbound",source_service="web""#),
            "{text}"
        );
    }
}
