//! Outlier detection (CircuitBreaker `outlierDetection`): an endpoint that fails
//! `consecutive5xx` times in a row (5xx answers, or no answer at all) is ejected from the
//! balancer for `baseEjectionTime` × the number of times it was ejected, while no more than
//! `maxEjectionPercent` of the outbound's endpoints are out at once. An endpoint that stays
//! healthy for `interval` after it returned has one ejection forgiven.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use weft_model::policy::circuit_breaker::OutlierDetection;

use crate::clock;
use crate::upstream::endpoint::Endpoint;

/// Longest single ejection, however often an endpoint was ejected before.
const MAX_EJECTION: Duration = Duration::from_secs(300);

pub struct OutlierDetector {
    consecutive: u32,
    interval: u64,
    base_ejection: u64,
    max_ejection_percent: u32,
    /// Every endpoint of the outbound, for the ejection cap.
    endpoints: Vec<Arc<Endpoint>>,
}

impl OutlierDetector {
    /// Defaults follow Envoy's: 5 failures, 10 s, 30 s, 10 %.
    pub fn new(conf: &OutlierDetection, endpoints: Vec<Arc<Endpoint>>) -> OutlierDetector {
        let duration = |value: &Option<weft_model::duration::DurationText>, default: Duration| {
            value
                .as_ref()
                .and_then(|text| text.get())
                .map_or(default, |duration| duration.as_std())
        };
        OutlierDetector {
            consecutive: conf
                .consecutive_5xx
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(5)
                .max(1),
            interval: clock::nanos(duration(&conf.interval, Duration::from_secs(10))),
            base_ejection: clock::nanos(duration(
                &conf.base_ejection_time,
                Duration::from_secs(30),
            )),
            max_ejection_percent: conf
                .max_ejection_percent
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(10),
            endpoints,
        }
    }

    /// Records the result of one attempt on `endpoint`.
    pub fn record(&self, endpoint: &Endpoint, failed: bool, now: u64) {
        let state = &endpoint.outlier;
        if !failed {
            if state.consecutive_failures.load(Relaxed) != 0 {
                state.consecutive_failures.store(0, Relaxed);
            }
            let returned = state.returned_at.load(Relaxed);
            if returned != 0
                && now.saturating_sub(returned) >= self.interval
                && state.ejections.load(Relaxed) > 0
            {
                state.ejections.fetch_sub(1, Relaxed);
                state.returned_at.store(now, Relaxed);
            }
            return;
        }
        let failures = state.consecutive_failures.fetch_add(1, Relaxed) + 1;
        if failures < self.consecutive || state.is_ejected(now) || !self.may_eject(now) {
            return;
        }
        state.consecutive_failures.store(0, Relaxed);
        let ejections = state.ejections.fetch_add(1, Relaxed) + 1;
        let time = self
            .base_ejection
            .saturating_mul(u64::from(ejections))
            .min(clock::nanos(MAX_EJECTION).max(self.base_ejection));
        state.ejected_until.store(now + time, Relaxed);
        state.returned_at.store(now + time, Relaxed);
        tracing::warn!(
            endpoint = %endpoint.address,
            service = %endpoint.service,
            failures,
            ejected_for_ms = time / 1_000_000,
            "endpoint ejected"
        );
    }

    fn may_eject(&self, now: u64) -> bool {
        if self.max_ejection_percent == 0 {
            return false;
        }
        let ejected = self
            .endpoints
            .iter()
            .filter(|endpoint| endpoint.outlier.is_ejected(now))
            .count();
        // At least one endpoint may always go (as in Envoy).
        ejected == 0
            || (ejected + 1) * 100 <= self.max_ejection_percent as usize * self.endpoints.len()
    }
}
