//! CircuitBreaker limits: at most `maxRequests` attempts in flight to an outbound (over
//! HTTP/1.1 also at most `maxConnections`, one request per connection); beyond that up to
//! `maxPendingRequests` wait for a slot, and any more are refused at once with a 503 carrying
//! `x-weft-overloaded`. A slot is held until the response body ends. `maxConnections` also
//! bounds the connections the client opens (`upstream::client`). Unset limits default to
//! 1024, as in Envoy. Outlier detection is in `outlier.rs`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use tokio::sync::Semaphore;
use tower::Layer;
use weft_model::policy::circuit_breaker::CircuitBreakerConf;

use crate::error::ProxyError;
use crate::observe::observe;
use crate::stack::{Request, ResponseFuture, Stack};

const DEFAULT_LIMIT: usize = 1024;

/// The settings that make [`Limits`]: requests, connections, pending, HTTP/2.
pub type LimitsKey = (Option<i64>, Option<i64>, Option<i64>, bool);

/// The limits of one outbound, shared by its backends and by config versions.
pub struct Limits {
    service: String,
    slots: Arc<Semaphore>,
    /// Which limit a full `slots` means, for the message.
    slot_limit: &'static str,
    pending: AtomicUsize,
    max_pending: usize,
}

impl Limits {
    pub fn new(service: &str, conf: &CircuitBreakerConf, http2: bool) -> Limits {
        let limit = |value: Option<i64>| {
            value
                .and_then(|n| usize::try_from(n).ok())
                .unwrap_or(DEFAULT_LIMIT)
        };
        let requests = limit(conf.max_requests);
        let connections = limit(conf.max_connections);
        let (slots, slot_limit) = if !http2 && connections < requests {
            (connections, "maxConnections")
        } else {
            (requests, "maxRequests")
        };
        Limits {
            service: service.to_string(),
            slots: Arc::new(Semaphore::new(slots)),
            slot_limit,
            pending: AtomicUsize::new(0),
            max_pending: limit(conf.max_pending_requests),
        }
    }

    /// Whether two configurations make the same limits (then the state carries over).
    pub fn key(conf: &CircuitBreakerConf, http2: bool) -> LimitsKey {
        (
            conf.max_requests,
            conf.max_connections,
            conf.max_pending_requests,
            http2,
        )
    }
}

#[derive(Clone)]
pub struct CircuitBreakerLayer(pub Arc<Limits>);

#[derive(Clone)]
pub struct CircuitBreaker {
    inner: Stack,
    limits: Arc<Limits>,
}

impl Layer<Stack> for CircuitBreakerLayer {
    type Service = CircuitBreaker;

    fn layer(&self, inner: Stack) -> CircuitBreaker {
        CircuitBreaker {
            inner,
            limits: self.0.clone(),
        }
    }
}

impl CircuitBreaker {
    fn serve(&self, request: Request) -> ResponseFuture {
        let this = self.clone();
        Box::pin(async move {
            let limits = &this.limits;
            let permit = match limits.slots.clone().try_acquire_owned() {
                Ok(permit) => permit,
                Err(_) => {
                    if limits.pending.fetch_add(1, Relaxed) >= limits.max_pending {
                        limits.pending.fetch_sub(1, Relaxed);
                        return Err(ProxyError::Overloaded {
                            service: limits.service.clone(),
                            limit: "maxPendingRequests",
                        });
                    }
                    let waited = {
                        let _pending = Pending(&limits.pending);
                        limits.slots.clone().acquire_owned().await
                    };
                    waited.map_err(|_| ProxyError::Overloaded {
                        service: limits.service.clone(),
                        limit: limits.slot_limit,
                    })?
                }
            };
            let response = this.inner.call(request).await?;
            Ok(observe(response, move |_| drop(permit)))
        })
    }
}

crate::stack_service!(CircuitBreaker);

/// One request waiting for a slot, until dropped (also when the client gives up).
struct Pending<'a>(&'a AtomicUsize);

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Relaxed);
    }
}
