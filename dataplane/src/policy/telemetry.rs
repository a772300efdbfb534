//! Counting every request on its edge: outbound requests on the edge of the endpoint that
//! served them (or the outbound's own edge when none did), inbound requests on the edge from
//! outside the mesh or from the mesh. Recorded when the response body ends, so gRPC statuses in
//! trailers and body sizes are known; latency is the time to the response headers.

use std::sync::Arc;
use std::time::Instant;

use http_body::Body as _;
use tower::Layer;

use super::balance::Served;
use crate::observe::observe;
use crate::stack::{Request, ResponseFuture, Stack};
use crate::telemetry::{EdgeStats, Outcome};

/// Set by a source proxy on requests it sends into the mesh: the destination then knows the
/// source already counted the request. (With mTLS the verified peer identity replaces it.)
pub const SOURCE_HEADER: &str = "x-weft-source";

#[derive(Clone)]
pub enum Edges {
    /// The outbound's edge for requests no endpoint answered.
    Outbound { fallback: Arc<EdgeStats> },
    Inbound {
        external: Arc<EdgeStats>,
        mesh: Arc<EdgeStats>,
    },
}

#[derive(Clone)]
pub struct TelemetryLayer(pub Edges);

#[derive(Clone)]
pub struct Record {
    inner: Stack,
    edges: Edges,
}

impl Layer<Stack> for TelemetryLayer {
    type Service = Record;

    fn layer(&self, inner: Stack) -> Record {
        Record {
            inner,
            edges: self.0.clone(),
        }
    }
}

impl Record {
    fn serve(&self, request: Request) -> ResponseFuture {
        let started = Instant::now();
        let request_bytes = request.body().size_hint().exact().unwrap_or(0);
        // Inbound: known now. Outbound: the endpoint that served, or the outbound's own edge.
        let (edge, use_served, mtls) = match &self.edges {
            Edges::Inbound { external, mesh } => {
                let verified = crate::source::verified(&request).is_some();
                // Another proxy counted it already (verified, or at least it says so).
                let from_mesh = verified || request.headers().contains_key(SOURCE_HEADER);
                (
                    if from_mesh { mesh } else { external }.clone(),
                    false,
                    verified,
                )
            }
            Edges::Outbound { fallback } => (fallback.clone(), true, false),
        };
        let future = self.inner.call(request);
        Box::pin(async move {
            let response = future.await?;
            let (edge, mtls) = match response.extensions().get::<Served>() {
                Some(served) if use_served => (served.endpoint.edge.clone(), served.mtls),
                _ => (edge, mtls),
            };
            if response
                .headers()
                .contains_key(super::permissions::DENIED_HEADER)
            {
                edge.add_denied();
            }
            let outcome = Outcome {
                status: response.status().as_u16(),
                latency: started.elapsed(),
                request_bytes,
                mtls,
                ..Outcome::default()
            };
            Ok(observe(response, move |summary| {
                edge.record(&Outcome {
                    grpc_error: summary.grpc_status.is_some_and(|status| status != 0),
                    response_bytes: summary.bytes,
                    ..outcome
                });
            }))
        })
    }
}

crate::stack_service!(Record);
