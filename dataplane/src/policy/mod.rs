//! One tower layer per concern. Each file turns the policy's configuration (as the zone
//! computed it, `weft_model::proxy`) into a layer; `proxy::inbound` and `proxy::outbound` put
//! the layers together.

pub mod access_log;
pub mod balance;
pub mod circuit_breaker;
pub mod errors;
pub mod fault_injection;
pub mod filters;
pub mod health_check;
pub mod outlier;
pub mod permissions;
pub mod rate_limit;
pub mod retry;
pub mod telemetry;
pub mod timeout;
pub mod trace;

use std::time::Duration;

use weft_model::duration::DurationText;

/// A duration from a validated policy (`None` when absent).
pub fn duration(text: &Option<DurationText>) -> Option<Duration> {
    text.as_ref()
        .and_then(DurationText::get)
        .map(|duration| duration.as_std())
}

/// True with probability `percent` / 100.
pub fn roll(percent: f64) -> bool {
    percent >= 100.0 || (percent > 0.0 && fastrand::f64() * 100.0 < percent)
}
