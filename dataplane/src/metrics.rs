//! `/metrics` of the admin port: the per-edge families and the proxy's own state.

use std::sync::atomic::Ordering::Relaxed;

use crate::proxy::Proxy;
use crate::telemetry::metrics::Encoder;

pub fn encode(proxy: &Proxy) -> String {
    proxy.telemetry().encode(|encoder: &mut Encoder| {
        let now = crate::clock::now_nanos();
        let endpoints = proxy.shared.endpoints.all();
        encoder.family(
            "weft_dp_endpoint_available",
            "gauge",
            "Whether an upstream endpoint takes traffic (healthy and not ejected).",
        );
        for endpoint in &endpoints {
            let address = endpoint.address.to_string();
            encoder.sample(
                "weft_dp_endpoint_available",
                &[("service", &endpoint.service), ("endpoint", &address)],
                u8::from(endpoint.available(now)),
            );
        }
        encoder.family(
            "weft_dp_endpoint_requests_in_flight",
            "gauge",
            "Requests sent to an upstream endpoint and not answered yet.",
        );
        for endpoint in &endpoints {
            let address = endpoint.address.to_string();
            encoder.sample(
                "weft_dp_endpoint_requests_in_flight",
                &[("service", &endpoint.service), ("endpoint", &address)],
                endpoint.in_flight.load(Relaxed),
            );
        }
        encoder.family(
            "weft_dp_access_log_dropped_total",
            "counter",
            "Access log lines dropped because their destination could not keep up.",
        );
        encoder.sample(
            "weft_dp_access_log_dropped_total",
            &[],
            proxy.shared.sinks.dropped(),
        );
        encoder.family(
            "weft_dp_config_version",
            "gauge",
            "Version of the config the proxy serves (0 before the first).",
        );
        encoder.sample(
            "weft_dp_config_version",
            &[],
            proxy.runtime().map_or(0, |runtime| runtime.version),
        );
    })
}
