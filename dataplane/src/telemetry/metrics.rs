//! Prometheus text exposition (format 0.0.4, what `promtool check metrics` reads): counter
//! names end in `_total`, units are in the names, and the label set is bounded by the config.

use std::fmt::Write;

use weft_api::telemetry::{EdgeCounters, EdgeKey, LATENCY_BUCKETS_MICROS};

use super::Direction;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Default)]
pub struct Encoder {
    out: String,
}

/// A label set written as `{a="1",b="2"}`.
pub struct Labels<'a>(pub &'a [(&'a str, &'a str)]);

impl std::fmt::Display for Labels<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        f.write_char('{')?;
        for (position, (name, value)) in self.0.iter().enumerate() {
            if position > 0 {
                f.write_char(',')?;
            }
            write!(f, "{name}=\"")?;
            for c in value.chars() {
                match c {
                    '\\' => f.write_str("\\\\")?,
                    '"' => f.write_str("\\\"")?,
                    '\n' => f.write_str("\\n")?,
                    c => f.write_char(c)?,
                }
            }
            f.write_char('"')?;
        }
        f.write_char('}')
    }
}

impl Encoder {
    /// Starts a metric family.
    pub fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}");
        let _ = writeln!(self.out, "# TYPE {name} {kind}");
    }

    pub fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let _ = writeln!(self.out, "{name}{} {value}", Labels(labels));
    }

    pub fn finish(self) -> String {
        self.out
    }
}

fn edge_labels(direction: Direction, key: &EdgeKey) -> [(&'static str, &str); 5] {
    [
        ("direction", direction.label()),
        ("source_service", &key.source_service),
        ("source_version", &key.source_version),
        ("destination_service", &key.destination_service),
        ("destination_version", &key.destination_version),
    ]
}

const STATUS_CLASSES: [&str; 5] = ["1xx", "2xx", "3xx", "4xx", "5xx"];

/// The per-edge families.
pub fn edges(encoder: &mut Encoder, edges: &[(Direction, EdgeKey, EdgeCounters)]) {
    encoder.family(
        "weft_dp_requests_total",
        "counter",
        "Requests proxied, by edge and response status class.",
    );
    for (direction, key, counters) in edges {
        let labels = edge_labels(*direction, key);
        for (class, count) in STATUS_CLASSES.iter().zip(counters.status_classes) {
            if count > 0 {
                let mut all = labels.to_vec();
                all.push(("status_class", class));
                encoder.sample("weft_dp_requests_total", &all, count);
            }
        }
    }
    encoder.family(
        "weft_dp_request_duration_seconds",
        "histogram",
        "Time from receiving a request to its response headers.",
    );
    for (direction, key, counters) in edges {
        let labels = edge_labels(*direction, key);
        let mut cumulative = 0u64;
        for (position, count) in counters.latency_buckets.iter().enumerate() {
            cumulative += count;
            let bound = match LATENCY_BUCKETS_MICROS.get(position) {
                Some(micros) => format!("{}", *micros as f64 / 1_000_000.0),
                None => "+Inf".to_string(),
            };
            let mut all = labels.to_vec();
            all.push(("le", &bound));
            encoder.sample("weft_dp_request_duration_seconds_bucket", &all, cumulative);
        }
        encoder.sample(
            "weft_dp_request_duration_seconds_sum",
            &labels,
            counters.latency_sum_micros as f64 / 1_000_000.0,
        );
        encoder.sample(
            "weft_dp_request_duration_seconds_count",
            &labels,
            cumulative,
        );
    }
    for (name, help, value) in [
        (
            "weft_dp_grpc_errors_total",
            "Responses with a failing gRPC status.",
            (|c: &EdgeCounters| c.grpc_errors) as fn(&EdgeCounters) -> u64,
        ),
        (
            "weft_dp_retries_total",
            "Extra attempts made by retries.",
            |c| c.retries,
        ),
        (
            "weft_dp_mtls_requests_total",
            "Requests carried over mTLS.",
            |c| c.mtls_requests,
        ),
        (
            "weft_dp_denied_requests_total",
            "Requests a TrafficPermission refused.",
            |c| c.denied,
        ),
        (
            "weft_dp_request_bytes_total",
            "Request body bytes sent upstream.",
            |c| c.request_bytes,
        ),
        (
            "weft_dp_response_bytes_total",
            "Response body bytes received from upstream.",
            |c| c.response_bytes,
        ),
    ] {
        encoder.family(name, "counter", help);
        for (direction, key, counters) in edges {
            encoder.sample(name, &edge_labels(*direction, key), value(counters));
        }
    }
}
