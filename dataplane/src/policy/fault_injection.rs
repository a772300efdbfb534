//! FaultInjection (inbound): for chaos testing, delay `delay.percent` % of the requests from a
//! source by `delay.value`, and answer `abort.percent` % with `abort.status` without calling the
//! application.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use http::StatusCode;
use tower::Layer;
use weft_model::policy::fault_injection::FaultInjectionConf;
use weft_model::proxy::PerSource;

use super::roll;
use crate::error::ProxyError;
use crate::stack::{Request, ResponseFuture, Stack};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Fault {
    delay: Option<(f64, Duration)>,
    abort: Option<(f64, StatusCode)>,
}

impl Fault {
    fn new(conf: &FaultInjectionConf) -> Fault {
        Fault {
            delay: conf
                .delay
                .as_ref()
                .and_then(|delay| Some((delay.percent?, super::duration(&delay.value)?))),
            abort: conf.abort.as_ref().and_then(|abort| {
                let status = StatusCode::from_u16(u16::try_from(abort.status?).ok()?).ok()?;
                Some((abort.percent?, status))
            }),
        }
    }
}

#[derive(Clone)]
pub struct FaultInjectionLayer {
    default: Option<Fault>,
    sources: Arc<HashMap<String, Fault>>,
}

impl FaultInjectionLayer {
    pub fn new(conf: &PerSource<FaultInjectionConf>) -> Option<FaultInjectionLayer> {
        (!conf.is_empty()).then(|| FaultInjectionLayer {
            default: conf.default.as_ref().map(Fault::new),
            sources: Arc::new(
                conf.sources
                    .iter()
                    .map(|(source, c)| (source.clone(), Fault::new(c)))
                    .collect(),
            ),
        })
    }
}

#[derive(Clone)]
pub struct FaultInjection {
    inner: Stack,
    layer: FaultInjectionLayer,
}

impl Layer<Stack> for FaultInjectionLayer {
    type Service = FaultInjection;

    fn layer(&self, inner: Stack) -> FaultInjection {
        FaultInjection {
            inner,
            layer: self.clone(),
        }
    }
}

impl FaultInjection {
    fn serve(&self, request: Request) -> ResponseFuture {
        let fault = crate::source::verified(&request)
            .and_then(|source| self.layer.sources.get(source))
            .or(self.layer.default.as_ref())
            .copied();
        let Some(fault) = fault else {
            return self.inner.call(request);
        };
        let delay = fault
            .delay
            .and_then(|(percent, value)| roll(percent).then_some(value));
        let abort = fault
            .abort
            .and_then(|(percent, status)| roll(percent).then_some(status));
        let inner = self.inner.clone();
        Box::pin(async move {
            if let Some(delay) = delay {
                tokio::time::sleep(delay).await;
            }
            if let Some(status) = abort {
                return Err(ProxyError::FaultAbort { status });
            }
            inner.call(request).await
        })
    }
}

crate::stack_service!(FaultInjection);
