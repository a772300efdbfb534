//! The layer that turns every error below it into the response the client sees
//! ([`ProxyError::into_response`], or for gRPC calls a gRPC status), so the layers above
//! always see a response.

use tower::Layer;

use crate::error::is_grpc;
use crate::stack::{Request, ResponseFuture, Stack};

#[derive(Clone)]
pub struct Respond {
    inner: Stack,
}

pub struct RespondLayer;

impl Layer<Stack> for RespondLayer {
    type Service = Respond;

    fn layer(&self, inner: Stack) -> Respond {
        Respond { inner }
    }
}

impl Respond {
    fn serve(&self, request: Request) -> ResponseFuture {
        let grpc = is_grpc(request.headers());
        let future = self.inner.call(request);
        Box::pin(async move {
            match future.await {
                Ok(response) => Ok(response),
                Err(error) if grpc => Ok(error.into_grpc_response()),
                Err(error) => Ok(error.into_response()),
            }
        })
    }
}

crate::stack_service!(Respond);
