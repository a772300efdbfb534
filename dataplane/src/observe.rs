//! Watching a response body to its end: bytes, the gRPC status in its trailers, and whether it
//! completed. Telemetry, access logs, traces and request limits act when the body is done
//! (or dropped), not when the headers pass.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};

use crate::body::{Body, BoxError};
use crate::stack::Response;

pub const GRPC_STATUS: &str = "grpc-status";

/// What the body carried.
#[derive(Clone, Copy, Debug, Default)]
pub struct Summary {
    pub bytes: u64,
    /// From the trailers (or, for trailers-only answers, the headers).
    pub grpc_status: Option<u32>,
    /// The body reached its end (not cut off by an error or a client that went away).
    pub completed: bool,
}

pub fn grpc_status(headers: &HeaderMap) -> Option<u32> {
    std::str::from_utf8(headers.get(GRPC_STATUS)?.as_bytes())
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Calls `on_end` with the body's summary once it ends or is dropped.
pub fn observe<F>(response: Response, on_end: F) -> Response
where
    F: FnOnce(&Summary) + Send + Unpin + 'static,
{
    let header_status = grpc_status(response.headers());
    if http_body::Body::is_end_stream(response.body()) {
        on_end(&Summary {
            bytes: 0,
            grpc_status: header_status,
            completed: true,
        });
        return response;
    }
    response.map(|inner| {
        Body::boxed(Observed {
            inner,
            summary: Summary {
                grpc_status: header_status,
                ..Summary::default()
            },
            on_end: Some(on_end),
        })
    })
}

struct Observed<F: FnOnce(&Summary)> {
    inner: Body,
    summary: Summary,
    on_end: Option<F>,
}

impl<F: FnOnce(&Summary)> Observed<F> {
    fn finish(&mut self, completed: bool) {
        if let Some(on_end) = self.on_end.take() {
            self.summary.completed = completed;
            on_end(&self.summary);
        }
    }
}

impl<F: FnOnce(&Summary)> Drop for Observed<F> {
    fn drop(&mut self) {
        self.finish(false);
    }
}

impl<F: FnOnce(&Summary) + Unpin> HttpBody for Observed<F> {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.summary.bytes += data.len() as u64;
                } else if let Some(trailers) = frame.trailers_ref() {
                    this.summary.grpc_status = grpc_status(trailers).or(this.summary.grpc_status);
                }
                if this.inner.is_end_stream() {
                    this.finish(true);
                }
            }
            Poll::Ready(Some(Err(_))) => this.finish(false),
            Poll::Ready(None) => this.finish(true),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
