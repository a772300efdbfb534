//! RateLimit (inbound): a token bucket per `from[]` entry, as the generic cell rate algorithm
//! in one atomic: `requests` per `interval`, with bursts up to `requests`. A request over the
//! limit is answered with `onLimit.status` (429 by default) and `retry-after`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use http::StatusCode;
use tower::Layer;
use weft_model::policy::rate_limit::RateLimitConf;
use weft_model::proxy::PerSource;

use crate::clock;
use crate::error::ProxyError;
use crate::stack::{Request, ResponseFuture, Stack};

pub struct Bucket {
    /// Theoretical arrival time of the next request, clock nanos.
    tat: AtomicU64,
    emission: u64,
    tolerance: u64,
    status: StatusCode,
}

impl Bucket {
    pub fn new(conf: &RateLimitConf) -> Bucket {
        let requests = conf
            .requests
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(100)
            .max(1);
        let interval =
            clock::nanos(super::duration(&conf.interval).unwrap_or(Duration::from_secs(1)));
        let emission = (interval / requests).max(1);
        let status = conf
            .on_limit
            .as_ref()
            .and_then(|on_limit| on_limit.status)
            .and_then(|status| u16::try_from(status).ok())
            .and_then(|status| StatusCode::from_u16(status).ok())
            .unwrap_or(StatusCode::TOO_MANY_REQUESTS);
        Bucket {
            tat: AtomicU64::new(0),
            emission,
            tolerance: interval.saturating_sub(emission),
            status,
        }
    }

    /// Takes a token, or says how long until one is free.
    pub fn take(&self, now: u64) -> Result<(), Duration> {
        let mut tat = self.tat.load(Relaxed);
        loop {
            let base = tat.max(now);
            let ahead = base - now;
            if ahead > self.tolerance {
                return Err(Duration::from_nanos(ahead - self.tolerance));
            }
            match self
                .tat
                .compare_exchange_weak(tat, base + self.emission, Relaxed, Relaxed)
            {
                Ok(_) => return Ok(()),
                Err(current) => tat = current,
            }
        }
    }
}

/// Buckets of one inbound: one for each named source and one shared by all other sources.
#[derive(Clone)]
pub struct RateLimitLayer {
    default: Option<Arc<Bucket>>,
    sources: Arc<HashMap<String, Arc<Bucket>>>,
}

impl RateLimitLayer {
    /// `bucket` returns the bucket for a setting (shared with earlier versions when unchanged).
    pub fn new(
        conf: &PerSource<RateLimitConf>,
        mut bucket: impl FnMut(Option<&str>, &RateLimitConf) -> Arc<Bucket>,
    ) -> Option<RateLimitLayer> {
        if conf.is_empty() {
            return None;
        }
        Some(RateLimitLayer {
            default: conf.default.as_ref().map(|c| bucket(None, c)),
            sources: Arc::new(
                conf.sources
                    .iter()
                    .map(|(source, c)| (source.clone(), bucket(Some(source), c)))
                    .collect(),
            ),
        })
    }
}

#[derive(Clone)]
pub struct RateLimit {
    inner: Stack,
    layer: RateLimitLayer,
}

impl Layer<Stack> for RateLimitLayer {
    type Service = RateLimit;

    fn layer(&self, inner: Stack) -> RateLimit {
        RateLimit {
            inner,
            layer: self.clone(),
        }
    }
}

impl RateLimit {
    fn serve(&self, request: Request) -> ResponseFuture {
        let bucket = crate::source::verified(&request)
            .and_then(|source| self.layer.sources.get(source))
            .or(self.layer.default.as_ref());
        if let Some(bucket) = bucket
            && let Err(retry_after) = bucket.take(clock::now_nanos())
        {
            let status = bucket.status;
            return Box::pin(async move {
                Err(ProxyError::RateLimited {
                    status,
                    retry_after,
                })
            });
        }
        self.inner.call(request)
    }
}

crate::stack_service!(RateLimit);

#[cfg(test)]
mod tests {
    use super::*;
    use weft_model::duration::DurationText;

    #[test]
    fn a_burst_of_requests_then_one_per_emission_interval() {
        let bucket = Bucket::new(&RateLimitConf {
            requests: Some(5),
            interval: Some(DurationText("1s".into())),
            on_limit: None,
        });
        let start = clock::nanos(Duration::from_secs(100));
        assert_eq!((0..10).filter(|_| bucket.take(start).is_ok()).count(), 5);
        let wait = bucket.take(start).unwrap_err();
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        // One token comes back every 200 ms.
        let later = start + clock::nanos(Duration::from_millis(200));
        assert!(bucket.take(later).is_ok());
        assert!(bucket.take(later).is_err());
        assert_eq!(bucket.status, StatusCode::TOO_MANY_REQUESTS);
    }
}
