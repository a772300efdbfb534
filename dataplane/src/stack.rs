//! The unit proxy stacks are built from: a type-erased, cheaply cloned tower service.
//!
//! Each concern is a tower [`Layer`] in its own file under `policy/`; `proxy::inbound` and
//! `proxy::outbound` build the stacks in named steps (`push_timeout`, `push_retry`, …). Every
//! step boxes its service into a [`Stack`], so types stay readable and a step whose policy is
//! not configured adds nothing to the request path.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tower::{Layer, Service};

use crate::body::Body;
use crate::error::ProxyError;

pub type Request = http::Request<Body>;
pub type Response = http::Response<Body>;
pub type ResponseFuture = Pin<Box<dyn Future<Output = Result<Response, ProxyError>> + Send>>;

/// A boxed service whose clones share one instance (an `Arc`), ready at all times.
#[derive(Clone)]
pub struct Stack(Arc<dyn Call>);

trait Call: Send + Sync + 'static {
    fn call(&self, request: Request) -> ResponseFuture;
}

/// Services in a stack clone cheaply (their state is behind `Arc`s) and are always ready, so a
/// shared reference is enough to call one.
impl<S> Call for S
where
    S: Service<Request, Response = Response, Error = ProxyError, Future = ResponseFuture>
        + Clone
        + Send
        + Sync
        + 'static,
{
    fn call(&self, request: Request) -> ResponseFuture {
        Service::call(&mut self.clone(), request)
    }
}

impl Stack {
    pub fn new<S>(service: S) -> Stack
    where
        S: Service<Request, Response = Response, Error = ProxyError, Future = ResponseFuture>
            + Clone
            + Send
            + Sync
            + 'static,
    {
        Stack(Arc::new(service))
    }

    /// A stack from an async function of the request.
    pub fn from_fn<F, Fut>(function: F) -> Stack
    where
        F: Fn(Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ProxyError>> + Send + 'static,
    {
        Stack::new(FnService(function))
    }

    /// Wraps this stack in `layer`.
    pub fn push<L>(self, layer: L) -> Stack
    where
        L: Layer<Stack>,
        L::Service: Service<Request, Response = Response, Error = ProxyError, Future = ResponseFuture>
            + Clone
            + Send
            + Sync
            + 'static,
    {
        Stack::new(layer.layer(self))
    }

    /// Wraps this stack in `layer` when there is one.
    pub fn push_optional<L>(self, layer: Option<L>) -> Stack
    where
        L: Layer<Stack>,
        L::Service: Service<Request, Response = Response, Error = ProxyError, Future = ResponseFuture>
            + Clone
            + Send
            + Sync
            + 'static,
    {
        match layer {
            Some(layer) => self.push(layer),
            None => self,
        }
    }

    pub fn call(&self, request: Request) -> ResponseFuture {
        self.0.call(request)
    }
}

impl Service<Request> for Stack {
    type Response = Response;
    type Error = ProxyError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> ResponseFuture {
        self.0.call(request)
    }
}

#[derive(Clone)]
struct FnService<F>(F);

impl<F, Fut> Service<Request> for FnService<F>
where
    F: Fn(Request) -> Fut,
    Fut: Future<Output = Result<Response, ProxyError>> + Send + 'static,
{
    type Response = Response;
    type Error = ProxyError;
    type Future = ResponseFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), ProxyError>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> ResponseFuture {
        Box::pin((self.0)(request))
    }
}

/// Implements `tower::Service` for a layer's service type from an inherent
/// `fn serve(&self, request: Request) -> ResponseFuture`.
#[macro_export]
macro_rules! stack_service {
    ($service:ty) => {
        impl tower::Service<$crate::stack::Request> for $service {
            type Response = $crate::stack::Response;
            type Error = $crate::error::ProxyError;
            type Future = $crate::stack::ResponseFuture;

            fn poll_ready(
                &mut self,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<Result<(), $crate::error::ProxyError>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: $crate::stack::Request) -> $crate::stack::ResponseFuture {
                self.serve(request)
            }
        }
    };
}
