//! Prometheus metrics of weft-global, served at /metrics.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct HttpLabels {
    pub method: String,
    pub status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ZoneLabels {
    pub zone: String,
}

/// Resources sent to a zone, by how: `snapshot` (everything) or `incremental` (the feed).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct SentLabels {
    pub zone: String,
    pub mode: &'static str,
}

pub struct Metrics {
    registry: Registry,
    pub http_requests: Family<HttpLabels, Counter>,
    pub zones_connected: Gauge,
    pub telemetry_reports: Family<ZoneLabels, Counter>,
    pub store_revision: Gauge,
    pub leader: Gauge,
    pub resources_sent: Family<SentLabels, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("weft_global");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests served, by method and status",
            http_requests.clone(),
        );
        let zones_connected = Gauge::default();
        registry.register(
            "zones_connected",
            "Zone control planes connected to this replica",
            zones_connected.clone(),
        );
        let telemetry_reports = Family::<ZoneLabels, Counter>::default();
        registry.register(
            "telemetry_reports",
            "Telemetry reports received, by zone",
            telemetry_reports.clone(),
        );
        let store_revision = Gauge::default();
        registry.register(
            "store_revision",
            "Latest store revision seen by this replica",
            store_revision.clone(),
        );
        let leader = Gauge::default();
        registry.register(
            "leader",
            "1 while this replica leads (runs the rollout controller, CA rotations, zone liveness)",
            leader.clone(),
        );
        let resources_sent = Family::<SentLabels, Counter>::default();
        registry.register(
            "sync_resources_sent",
            "Resources sent to zones, by zone and mode (snapshot or incremental)",
            resources_sent.clone(),
        );
        Metrics {
            registry,
            leader,
            resources_sent,
            http_requests,
            zones_connected,
            telemetry_reports,
            store_revision,
        }
    }
}

impl Metrics {
    pub fn encode(&self) -> String {
        let mut out = String::new();
        if let Err(error) = prometheus_client::encoding::text::encode(&mut out, &self.registry) {
            tracing::error!(%error, "encoding metrics failed");
        }
        out
    }
}
