//! Retry: another attempt when an attempt fails in a way `retryOn` names, up to `attempts` in
//! all, after an exponential backoff with jitter, while the retry budget allows (retries may
//! add `budget.percent` of the requests of the last ten seconds, and always `minPerSecond`).
//!
//! Any method is retried as long as its body can be replayed: bodies are kept as they stream
//! to the first attempt, up to [`REPLAY_LIMIT`]; a larger body is sent once. Retries are
//! counted on the edge of the request (`weft_dp_retries_total`, and the graph).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::StatusCode;
use http_body::Body as _;
use tower::Layer;
use weft_model::policy::retry::{
    DEFAULT_ATTEMPTS, DEFAULT_BACKOFF_BASE, DEFAULT_BACKOFF_MAX_FACTOR, DEFAULT_RETRY_ON, RetryConf,
};

use super::balance::Served;
use crate::body::{Body, ReplayBody};
use crate::clock;
use crate::error::{ProxyError, TimeoutKind};
use crate::observe::grpc_status;
use crate::stack::{Request, Response, ResponseFuture, Stack};
use crate::telemetry::EdgeStats;

/// Largest request body kept for replays.
pub const REPLAY_LIMIT: usize = 64 * 1024;

/// Which failures are retried.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Conditions {
    five_xx: bool,
    gateway_error: bool,
    reset: bool,
    connect_failure: bool,
    retriable_4xx: bool,
    refused_stream: bool,
    statuses: Vec<u16>,
    /// gRPC status codes.
    grpc: Vec<u32>,
}

impl Conditions {
    pub fn parse(names: &[String]) -> Conditions {
        let mut conditions = Conditions::default();
        for name in names {
            match name.as_str() {
                "5xx" => conditions.five_xx = true,
                "gateway-error" => conditions.gateway_error = true,
                "reset" => conditions.reset = true,
                "connect-failure" => conditions.connect_failure = true,
                "retriable-4xx" => conditions.retriable_4xx = true,
                "refused-stream" => conditions.refused_stream = true,
                "cancelled" => conditions.grpc.push(1),
                "deadline-exceeded" => conditions.grpc.push(4),
                "resource-exhausted" => conditions.grpc.push(8),
                "internal" => conditions.grpc.push(13),
                "unavailable" => conditions.grpc.push(14),
                status => conditions.statuses.extend(status.parse::<u16>().ok()),
            }
        }
        conditions
    }

    fn response(&self, response: &Response) -> bool {
        let status = response.status();
        (self.five_xx && status.is_server_error())
            || (self.gateway_error
                && matches!(
                    status,
                    StatusCode::BAD_GATEWAY
                        | StatusCode::SERVICE_UNAVAILABLE
                        | StatusCode::GATEWAY_TIMEOUT
                ))
            || (self.retriable_4xx && status == StatusCode::CONFLICT)
            || self.statuses.contains(&status.as_u16())
            || (!self.grpc.is_empty()
                && grpc_status(response.headers()).is_some_and(|code| self.grpc.contains(&code)))
    }

    fn error(&self, error: &ProxyError) -> bool {
        match error {
            ProxyError::Connect { .. } => {
                self.connect_failure || self.five_xx || self.gateway_error
            }
            ProxyError::Reset { refused, .. } => {
                self.reset || self.five_xx || (*refused && self.refused_stream)
            }
            ProxyError::Timeout {
                kind: TimeoutKind::Connect,
                ..
            } => self.connect_failure || self.five_xx || self.gateway_error,
            ProxyError::Timeout {
                kind: TimeoutKind::PerTry,
                ..
            } => self.five_xx || self.gateway_error || self.statuses.contains(&504),
            ProxyError::Upstream { .. } => self.five_xx,
            _ => false,
        }
    }
}

/// Retries may add `percent` of the requests of the last ten seconds, plus `min_per_second`.
pub struct Budget {
    percent: f64,
    min_per_second: u64,
    /// Per second of the window: (second, requests, retries).
    slots: [(AtomicU64, AtomicU64, AtomicU64); WINDOW_SECONDS],
}

const WINDOW_SECONDS: usize = 10;

impl Budget {
    pub fn new(percent: f64, min_per_second: u64) -> Budget {
        Budget {
            percent,
            min_per_second,
            slots: std::array::from_fn(|_| Default::default()),
        }
    }

    fn slot(&self, second: u64) -> &(AtomicU64, AtomicU64, AtomicU64) {
        let slot = &self.slots[(second % WINDOW_SECONDS as u64) as usize];
        let seen = slot.0.load(Relaxed);
        if seen != second
            && slot
                .0
                .compare_exchange(seen, second, Relaxed, Relaxed)
                .is_ok()
        {
            slot.1.store(0, Relaxed);
            slot.2.store(0, Relaxed);
        }
        slot
    }

    pub fn deposit(&self) {
        let second = clock::now_nanos() / 1_000_000_000 + 1;
        self.slot(second).1.fetch_add(1, Relaxed);
    }

    /// Takes one retry from the budget; false when it is spent.
    pub fn withdraw(&self) -> bool {
        let second = clock::now_nanos() / 1_000_000_000 + 1;
        let current = self.slot(second);
        let (mut requests, mut retries) = (0u64, 0u64);
        for slot in &self.slots {
            let at = slot.0.load(Relaxed);
            if at + (WINDOW_SECONDS as u64) > second {
                requests += slot.1.load(Relaxed);
                retries += slot.2.load(Relaxed);
            }
        }
        let allowed = self.min_per_second * WINDOW_SECONDS as u64
            + (requests as f64 * self.percent / 100.0) as u64;
        if retries >= allowed {
            return false;
        }
        current.2.fetch_add(1, Relaxed);
        true
    }
}

pub struct RetryPolicy {
    attempts: u32,
    base: Duration,
    max: Duration,
    conditions: Conditions,
    budget: Arc<Budget>,
}

impl RetryPolicy {
    /// Envoy's defaults where the policy is silent: 25 ms base, 10 × base max, retry on 5xx.
    /// `budget` is shared by every config version with the same budget settings.
    pub fn new(conf: &RetryConf, budget: Arc<Budget>) -> Option<RetryPolicy> {
        let attempts = conf
            .attempts
            .and_then(|n| u32::try_from(n).ok())
            .unwrap_or(DEFAULT_ATTEMPTS as u32);
        if attempts <= 1 {
            return None;
        }
        let backoff = conf.backoff.as_ref();
        let base = backoff
            .and_then(|b| super::duration(&b.base))
            .unwrap_or(DEFAULT_BACKOFF_BASE);
        let max = backoff
            .and_then(|b| super::duration(&b.max))
            .unwrap_or(base * DEFAULT_BACKOFF_MAX_FACTOR);
        let conditions = Conditions::parse(
            conf.retry_on
                .as_deref()
                .unwrap_or(&[DEFAULT_RETRY_ON.to_string()]),
        );
        Some(RetryPolicy {
            attempts,
            base,
            max: max.max(base),
            conditions,
            budget,
        })
    }

    /// Budget settings (percent, min per second) with the defaults: 20 %, 10 per second.
    pub fn budget_settings(conf: &RetryConf) -> (f64, u64) {
        let budget = conf.budget.as_ref();
        (
            budget.and_then(|b| b.percent).unwrap_or(20.0),
            budget
                .and_then(|b| b.min_per_second)
                .and_then(|n| u64::try_from(n).ok())
                .unwrap_or(10),
        )
    }

    /// Full jitter over an exponential backoff: uniform in [0, min(max, base × 2^(retry-1))].
    fn backoff(&self, retry: u32) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << retry.saturating_sub(1).min(16))
            .min(self.max);
        ceiling.mul_f64(fastrand::f64())
    }
}

#[derive(Clone)]
pub struct RetryLayer {
    pub policy: Arc<RetryPolicy>,
    /// Where retries of requests no endpoint answered are counted.
    pub fallback: Arc<EdgeStats>,
}

#[derive(Clone)]
pub struct Retry {
    inner: Stack,
    layer: RetryLayer,
}

impl Layer<Stack> for RetryLayer {
    type Service = Retry;

    fn layer(&self, inner: Stack) -> Retry {
        Retry {
            inner,
            layer: self.clone(),
        }
    }
}

impl Retry {
    fn serve(&self, request: Request) -> ResponseFuture {
        let this = self.clone();
        Box::pin(async move {
            let policy = &this.layer.policy;
            policy.budget.deposit();
            let (parts, body) = request.into_parts();
            let replay = (!body.is_end_stream()).then(|| ReplayBody::new(body, REPLAY_LIMIT));
            let mut attempt = 1;
            loop {
                let body = match &replay {
                    None => Body::empty(),
                    Some(replay) => replay.replay().map(Body::Replay).ok_or_else(|| {
                        ProxyError::RequestBody("the request body is too large to replay".into())
                    })?,
                };
                let mut request = http::Request::new(body);
                *request.method_mut() = parts.method.clone();
                *request.uri_mut() = parts.uri.clone();
                *request.version_mut() = parts.version;
                *request.headers_mut() = parts.headers.clone();
                *request.extensions_mut() = parts.extensions.clone();
                let result = this.inner.call(request).await;
                let retry = attempt < policy.attempts
                    && match &result {
                        Ok(response) => policy.conditions.response(response),
                        Err(error) => policy.conditions.error(error),
                    }
                    && replay
                        .as_ref()
                        .is_none_or(|replay| replay.replay().is_some())
                    && policy.budget.withdraw();
                if !retry {
                    let retries = u64::from(attempt - 1);
                    if retries > 0 {
                        let edge = match &result {
                            Ok(response) => response
                                .extensions()
                                .get::<Served>()
                                .map(|served| served.endpoint.edge.clone()),
                            Err(_) => None,
                        };
                        edge.unwrap_or_else(|| this.layer.fallback.clone())
                            .add_retries(retries);
                    }
                    return result;
                }
                tracing::debug!(attempt, "retrying");
                drop(result);
                tokio::time::sleep(policy.backoff(attempt)).await;
                attempt += 1;
            }
        })
    }
}

crate::stack_service!(Retry);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_cover_statuses_errors_and_grpc() {
        let conditions = Conditions::parse(&["gateway-error".into(), "unavailable".into()]);
        let response = |status: u16, grpc: Option<&str>| {
            let mut builder = http::Response::builder().status(status);
            if let Some(grpc) = grpc {
                builder = builder.header("grpc-status", grpc);
            }
            builder.body(Body::empty()).unwrap()
        };
        assert!(conditions.response(&response(503, None)));
        assert!(!conditions.response(&response(500, None)));
        assert!(conditions.response(&response(200, Some("14"))));
        assert!(!conditions.response(&response(200, Some("13"))));
        assert!(conditions.error(&ProxyError::Connect {
            upstream: "x".into(),
            source: "refused".into()
        }));
        assert!(
            !Conditions::parse(&["503".into()]).error(&ProxyError::Reset {
                upstream: "x".into(),
                refused: false,
                source: "reset".into()
            })
        );
    }

    #[test]
    fn the_budget_allows_a_share_of_requests_plus_a_floor() {
        let budget = Budget::new(50.0, 0);
        assert!(!budget.withdraw(), "nothing deposited, no floor");
        for _ in 0..10 {
            budget.deposit();
        }
        let allowed = (0..10).filter(|_| budget.withdraw()).count();
        assert_eq!(allowed, 5);
        let floor = Budget::new(0.0, 1);
        assert_eq!((0..20).filter(|_| floor.withdraw()).count(), 10);
    }
}
