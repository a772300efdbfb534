//! The one body type the proxy's stacks pass around: the bodies hyper hands us, fixed bytes,
//! replayable bodies for retries, and boxed wrappers for layers that observe a body.

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use http::HeaderMap;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::Incoming;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[derive(Default)]
pub enum Body {
    #[default]
    Empty,
    Full(Option<Bytes>),
    Incoming(Incoming),
    Replay(ReplayBody),
    /// A response that gives its connection back to the pool when it ends.
    Pooled(Box<crate::upstream::pool::Pooled>),
    Boxed(UnsyncBoxBody<Bytes, BoxError>),
}

impl Body {
    pub fn empty() -> Body {
        Body::Empty
    }

    pub fn full(bytes: impl Into<Bytes>) -> Body {
        Body::Full(Some(bytes.into()))
    }

    /// Wraps any body; the wrapper is boxed.
    pub fn boxed<B>(body: B) -> Body
    where
        B: HttpBody<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        Body::Boxed(body.map_err(Into::into).boxed_unsync())
    }
}

impl From<Incoming> for Body {
    fn from(body: Incoming) -> Self {
        Body::Incoming(body)
    }
}

impl HttpBody for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.get_mut() {
            Body::Empty => Poll::Ready(None),
            Body::Full(bytes) => Poll::Ready(bytes.take().map(|bytes| Ok(Frame::data(bytes)))),
            Body::Incoming(body) => Pin::new(body).poll_frame(cx).map_err(Into::into),
            Body::Replay(body) => Pin::new(body).poll_frame(cx),
            Body::Pooled(body) => Pin::new(body.as_mut()).poll_frame(cx),
            Body::Boxed(body) => Pin::new(body).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            Body::Empty => true,
            Body::Full(bytes) => bytes.is_none(),
            Body::Incoming(body) => body.is_end_stream(),
            Body::Replay(body) => body.is_end_stream(),
            Body::Pooled(body) => body.is_end_stream(),
            Body::Boxed(body) => body.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            Body::Empty => SizeHint::with_exact(0),
            Body::Full(bytes) => {
                SizeHint::with_exact(bytes.as_ref().map_or(0, |bytes| bytes.len() as u64))
            }
            Body::Incoming(body) => body.size_hint(),
            Body::Replay(body) => body.size_hint(),
            Body::Pooled(body) => body.size_hint(),
            Body::Boxed(body) => body.size_hint(),
        }
    }
}

/// A request body that can be sent more than once: frames read by one attempt are kept (up to
/// a limit) so that the next attempt replays them and then goes on reading where the first
/// stopped. Data is shared as `Bytes`, never copied.
pub struct ReplayBody {
    shared: Arc<Mutex<Replay>>,
    /// Frames this copy has yielded.
    position: usize,
    trailers_sent: bool,
    hint: SizeHint,
}

struct Replay {
    inner: Option<Body>,
    /// Data frames read from `inner` so far, while they fit in `limit`.
    frames: Vec<Bytes>,
    /// Data frames read from `inner` in all (kept or not).
    frontier: usize,
    trailers: Option<HeaderMap>,
    recorded: usize,
    limit: usize,
    /// More than `limit` bytes were read: nothing can be replayed any more.
    overflowed: bool,
    ended: bool,
}

impl ReplayBody {
    /// Wraps `body`, keeping up to `limit` bytes for replays.
    pub fn new(body: Body, limit: usize) -> ReplayBody {
        let hint = body.size_hint();
        let ended = body.is_end_stream();
        ReplayBody {
            shared: Arc::new(Mutex::new(Replay {
                inner: (!ended).then_some(body),
                frames: Vec::new(),
                frontier: 0,
                trailers: None,
                recorded: 0,
                limit,
                overflowed: false,
                ended,
            })),
            position: 0,
            trailers_sent: false,
            hint,
        }
    }

    /// A fresh copy that starts from the beginning, or `None` when the body was larger than the
    /// limit and cannot be replayed.
    pub fn replay(&self) -> Option<ReplayBody> {
        let shared = self.lock();
        (!shared.overflowed).then(|| ReplayBody {
            shared: self.shared.clone(),
            position: 0,
            trailers_sent: false,
            hint: self.hint,
        })
    }

    /// Whether the whole body has been read (and kept).
    pub fn is_complete(&self) -> bool {
        let shared = self.lock();
        shared.ended && !shared.overflowed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Replay> {
        self.shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl HttpBody for ReplayBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        let mut shared = this
            .shared
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if this.position < shared.frontier {
            let Some(frame) = shared.frames.get(this.position).cloned() else {
                // The buffer overflowed: a copy behind the reader cannot go on.
                return Poll::Ready(Some(Err("request body is too large to replay".into())));
            };
            this.position += 1;
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        if shared.ended {
            if this.trailers_sent {
                return Poll::Ready(None);
            }
            this.trailers_sent = true;
            return Poll::Ready(shared.trailers.clone().map(|t| Ok(Frame::trailers(t))));
        }
        let Some(inner) = shared.inner.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = Pin::new(inner).poll_frame(cx);
        match polled {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                shared.ended = true;
                shared.inner = None;
                this.trailers_sent = true;
                Poll::Ready(None)
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error))),
            Poll::Ready(Some(Ok(frame))) => {
                let frame = match frame.into_data() {
                    Ok(data) => {
                        shared.frontier += 1;
                        this.position += 1;
                        if !shared.overflowed {
                            if shared.recorded + data.len() <= shared.limit {
                                shared.recorded += data.len();
                                shared.frames.push(data.clone());
                            } else {
                                shared.overflowed = true;
                                shared.frames = Vec::new();
                            }
                        }
                        Frame::data(data)
                    }
                    Err(frame) => {
                        if let Some(trailers) = frame.trailers_ref() {
                            shared.trailers = Some(trailers.clone());
                            this.trailers_sent = true;
                        }
                        frame
                    }
                };
                if shared.inner.as_ref().is_none_or(HttpBody::is_end_stream) {
                    shared.ended = true;
                    shared.inner = None;
                }
                Poll::Ready(Some(Ok(frame)))
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        let shared = self.lock();
        shared.ended
            && self.position >= shared.frontier
            && (self.trailers_sent || shared.trailers.is_none())
    }

    fn size_hint(&self) -> SizeHint {
        self.hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn collect(
        body: impl HttpBody<Data = Bytes, Error = BoxError>,
    ) -> Result<Bytes, BoxError> {
        Ok(body.collect().await?.to_bytes())
    }

    fn chunks(parts: &[&'static str]) -> Body {
        let stream = futures::stream::iter(
            parts
                .iter()
                .map(|part| Ok::<_, BoxError>(Frame::data(Bytes::from_static(part.as_bytes()))))
                .collect::<Vec<_>>(),
        );
        Body::boxed(http_body_util::StreamBody::new(stream))
    }

    #[tokio::test]
    async fn a_replay_repeats_what_was_read_and_continues() {
        let mut first = ReplayBody::new(chunks(&["ab", "cd", "ef"]), 1024);
        // The first attempt reads one frame and fails.
        let frame = first.frame().await.unwrap().unwrap();
        assert_eq!(frame.into_data().unwrap(), "ab");
        let second = first.replay().unwrap();
        assert_eq!(collect(second).await.unwrap(), "abcdef");
        assert!(first.is_complete());
        assert_eq!(collect(first.replay().unwrap()).await.unwrap(), "abcdef");
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_not_replayed() {
        let first = ReplayBody::new(chunks(&["abc", "def"]), 4);
        let copy = first.replay().unwrap();
        assert_eq!(collect(copy).await.unwrap(), "abcdef");
        assert!(first.replay().is_none());
        assert!(!first.is_complete());
    }
}
