//! Prometheus metrics of weft-zone, served at /metrics.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

pub struct Metrics {
    registry: Registry,
    pub dataplanes_connected: Gauge,
    pub global_connected: Gauge,
    pub config_pushes: Counter,
    pub configs_computed: Counter,
    pub config_rejections: Counter,
    pub telemetry_forwarded: Counter,
    pub telemetry_dropped: Counter,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("weft_zone");
        let dataplanes_connected = Gauge::default();
        registry.register(
            "dataplanes_connected",
            "Proxies with an open session",
            dataplanes_connected.clone(),
        );
        let global_connected = Gauge::default();
        registry.register(
            "global_connected",
            "1 while the sync stream to global is open",
            global_connected.clone(),
        );
        let config_pushes = Counter::default();
        registry.register(
            "config_pushes",
            "Proxy config versions sent",
            config_pushes.clone(),
        );
        let configs_computed = Counter::default();
        registry.register(
            "configs_computed",
            "Proxy configs computed because a change could concern them",
            configs_computed.clone(),
        );
        let config_rejections = Counter::default();
        registry.register(
            "config_rejections",
            "Proxy config versions a proxy rejected",
            config_rejections.clone(),
        );
        let telemetry_forwarded = Counter::default();
        registry.register(
            "telemetry_forwarded",
            "Proxy telemetry reports summed into what was sent to global",
            telemetry_forwarded.clone(),
        );
        let telemetry_dropped = Counter::default();
        registry.register(
            "telemetry_dropped",
            "Proxy telemetry dropped: reports counted while global was away, and edges past the per-message limit",
            telemetry_dropped.clone(),
        );
        Metrics {
            registry,
            dataplanes_connected,
            global_connected,
            config_pushes,
            configs_computed,
            config_rejections,
            telemetry_forwarded,
            telemetry_dropped,
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
