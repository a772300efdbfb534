//! Timeout: `request` bounds the whole exchange (retries included) up to the last byte of the
//! response, `perTry` one attempt up to its response headers, `streamIdle` the quiet time on a
//! stream (waiting for headers or between body frames). A timeout before the response headers
//! is a 504 whose body names it; after them the stream is cut. `connect` and `idle` apply to
//! the upstream connections (`upstream::client`).

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::Layer;
use weft_model::policy::timeout::TimeoutConf;

use crate::body::{Body, BoxError};
use crate::error::{ProxyError, TimeoutKind, humanize};
use crate::stack::{Request, ResponseFuture, Stack};

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeoutLayer {
    kind: TimeoutKind,
    after: Option<Duration>,
    stream_idle: Option<Duration>,
}

impl TimeoutLayer {
    /// The outer timeout (`request`, `streamIdle`), when either is set.
    pub fn request(conf: Option<&TimeoutConf>) -> Option<TimeoutLayer> {
        let conf = conf?;
        let after = super::duration(&conf.request);
        let stream_idle = super::duration(&conf.stream_idle);
        (after.is_some() || stream_idle.is_some()).then_some(TimeoutLayer {
            kind: TimeoutKind::Request,
            after,
            stream_idle,
        })
    }

    /// The timeout of each attempt.
    pub fn per_try(after: Option<Duration>) -> Option<TimeoutLayer> {
        after.map(|after| TimeoutLayer {
            kind: TimeoutKind::PerTry,
            after: Some(after),
            stream_idle: None,
        })
    }
}

#[derive(Clone)]
pub struct Timeout {
    inner: Stack,
    layer: TimeoutLayer,
}

impl Layer<Stack> for TimeoutLayer {
    type Service = Timeout;

    fn layer(&self, inner: Stack) -> Timeout {
        Timeout {
            inner,
            layer: *self,
        }
    }
}

impl Timeout {
    fn serve(&self, request: Request) -> ResponseFuture {
        let layer = self.layer;
        let future = self.inner.call(request);
        Box::pin(async move {
            let now = Instant::now();
            let deadline = layer.after.map(|after| now + after);
            let idle_deadline = layer.stream_idle.map(|idle| now + idle);
            // Whichever comes first names the error.
            let (until_headers, kind, after) = match (deadline, idle_deadline) {
                (Some(d), Some(i)) if i < d => {
                    (Some(i), TimeoutKind::StreamIdle, layer.stream_idle)
                }
                (Some(d), _) => (Some(d), layer.kind, layer.after),
                (None, Some(i)) => (Some(i), TimeoutKind::StreamIdle, layer.stream_idle),
                (None, None) => (None, layer.kind, None),
            };
            let response = match until_headers {
                Some(at) => tokio::time::timeout_at(at, future).await.map_err(|_| {
                    ProxyError::Timeout {
                        kind,
                        after: after.unwrap_or_default(),
                    }
                })??,
                None => future.await?,
            };
            if layer.kind == TimeoutKind::PerTry
                || (layer.stream_idle.is_none() && deadline.is_none())
            {
                return Ok(response);
            }
            Ok(response.map(|inner| {
                Body::boxed(DeadlineBody::new(
                    inner,
                    deadline.zip(layer.after),
                    layer.stream_idle,
                ))
            }))
        })
    }
}

crate::stack_service!(Timeout);

/// A response body cut off at a deadline, or after a quiet time between frames.
struct DeadlineBody {
    inner: Body,
    deadline: Option<(Instant, Duration)>,
    idle: Option<Duration>,
    timer: Pin<Box<Sleep>>,
}

impl DeadlineBody {
    fn new(inner: Body, deadline: Option<(Instant, Duration)>, idle: Option<Duration>) -> Self {
        let timer = Box::pin(tokio::time::sleep_until(Self::next(deadline, idle)));
        DeadlineBody {
            inner,
            deadline,
            idle,
            timer,
        }
    }

    fn next(deadline: Option<(Instant, Duration)>, idle: Option<Duration>) -> Instant {
        let idle_at = idle.map(|idle| Instant::now() + idle);
        match (deadline.map(|(at, _)| at), idle_at) {
            (Some(d), Some(i)) => d.min(i),
            (Some(d), None) => d,
            (None, Some(i)) => i,
            (None, None) => Instant::now() + Duration::from_secs(86_400 * 365),
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                if this.idle.is_some() {
                    let next = Self::next(this.deadline, this.idle);
                    this.timer.as_mut().reset(next);
                }
                Poll::Ready(frame)
            }
            Poll::Pending => match this.timer.as_mut().poll(cx) {
                Poll::Ready(()) => {
                    let message = match this.deadline {
                        Some((at, after)) if Instant::now() >= at => {
                            format!("request timeout of {} expired", humanize(after))
                        }
                        _ => format!(
                            "stream idle timeout of {} expired",
                            humanize(this.idle.unwrap_or_default())
                        ),
                    };
                    tracing::debug!(%message, "response cut off");
                    Poll::Ready(Some(Err(message.into())))
                }
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
