//! Which rule and which backend serve a request. Matching is pure code compiled once per
//! config ([`matcher`]); [`Router`] picks the first rule whose match accepts the request and
//! [`Split`] one of the rule's backends by weight.

mod matcher;

use std::sync::Arc;

use http::HeaderValue;

pub use matcher::{CompiledMatch, RequestFacts};

use crate::error::ProxyError;
use crate::policy::telemetry::SOURCE_HEADER;
use crate::stack::{Request, ResponseFuture, Stack};

#[derive(Clone)]
pub struct Router {
    inner: Arc<Routes>,
}

struct Routes {
    service: String,
    /// The source identity set on every request sent into the mesh.
    source: Option<HeaderValue>,
    rules: Vec<(CompiledMatch, Stack)>,
}

impl Router {
    pub fn new(service: &str, source: &str, rules: Vec<(CompiledMatch, Stack)>) -> Router {
        Router {
            inner: Arc::new(Routes {
                service: service.to_string(),
                source: HeaderValue::from_str(source).ok(),
                rules,
            }),
        }
    }

    fn serve(&self, mut request: Request) -> ResponseFuture {
        let routes = &*self.inner;
        if let Some(source) = &routes.source {
            request.headers_mut().insert(SOURCE_HEADER, source.clone());
        }
        let facts = RequestFacts {
            method: request.method().as_str(),
            path: request.uri().path(),
            query: request.uri().query(),
            headers: request.headers(),
        };
        match routes.rules.iter().find(|(rule, _)| rule.matches(&facts)) {
            Some((_, stack)) => stack.call(request),
            None => {
                let service = routes.service.clone();
                Box::pin(async move { Err(ProxyError::NoRoute { service }) })
            }
        }
    }
}

crate::stack_service!(Router);

/// Weighted choice between a rule's backends.
#[derive(Clone)]
pub struct Split {
    inner: Arc<Backends>,
}

struct Backends {
    service: String,
    backends: Vec<(u64, Stack)>,
    total: u64,
}

impl Split {
    /// `backends` with weight 0 are never chosen.
    pub fn new(service: &str, backends: Vec<(u64, Stack)>) -> Split {
        let backends: Vec<(u64, Stack)> = backends
            .into_iter()
            .filter(|(weight, _)| *weight > 0)
            .collect();
        Split {
            inner: Arc::new(Backends {
                service: service.to_string(),
                total: backends.iter().map(|(weight, _)| weight).sum(),
                backends,
            }),
        }
    }

    /// Backend `i` is chosen with probability weight_i / total for a uniform `roll`.
    pub fn pick(&self, roll: u64) -> Option<&Stack> {
        let split = &*self.inner;
        if split.total == 0 {
            return None;
        }
        let mut point = roll % split.total;
        for (weight, stack) in &split.backends {
            if point < *weight {
                return Some(stack);
            }
            point -= weight;
        }
        None
    }

    fn serve(&self, request: Request) -> ResponseFuture {
        match self.pick(fastrand::u64(..)) {
            Some(stack) => stack.call(request),
            None => {
                let service = self.inner.service.clone();
                Box::pin(async move { Err(ProxyError::NoRoute { service }) })
            }
        }
    }
}

crate::stack_service!(Split);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;

    fn answering(name: &'static str) -> Stack {
        Stack::from_fn(
            move |_request: Request| async move { Ok(http::Response::new(Body::full(name))) },
        )
    }

    #[test]
    fn weights_split_exactly_over_the_roll_space() {
        let split = Split::new(
            "catalog",
            vec![
                (80, answering("v1")),
                (20, answering("v2")),
                (0, answering("v3")),
            ],
        );
        let first = split.pick(0).map(|s| s as *const Stack);
        let v1 = (0..100)
            .filter(|roll| split.pick(*roll).map(|s| s as *const Stack) == first)
            .count();
        assert_eq!(v1, 80);
        assert!(
            Split::new("catalog", vec![(0, answering("v1"))])
                .pick(3)
                .is_none()
        );
    }
}
