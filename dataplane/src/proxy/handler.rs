//! The request path: inbound forwards to the local application; outbound picks an upstream by
//! the route rules and forwards to it. Both record the edge they served.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use weft_api::telemetry::EdgeKey;

use super::{Proxy, forward};
use crate::routing::NoUpstream;
use crate::telemetry::Direction;

/// Set by a source proxy on requests it sends into the mesh; the destination proxy then knows
/// the source already counted the request. (With mTLS the peer identity replaces it.)
pub const SOURCE_HEADER: &str = "x-weft-source";

pub type ProxyBody = BoxBody<Bytes, hyper::Error>;

fn error_response(status: StatusCode, message: String) -> Response<ProxyBody> {
    let body = Full::new(Bytes::from(format!("weft-dp: {message}\n")))
        .map_err(|never| match never {})
        .boxed();
    let mut response = Response::new(body);
    *response.status_mut() = status;
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// Forwards to `address`; a failure to reach it is a 502 naming `what`.
async fn forward_or_bad_gateway(
    proxy: &Proxy,
    request: Request<Incoming>,
    address: std::net::SocketAddr,
    what: &str,
) -> Response<ProxyBody> {
    match forward::forward(&proxy.client, request, address).await {
        Ok(response) => response.map(BodyExt::boxed),
        Err(error) => error_response(
            StatusCode::BAD_GATEWAY,
            format!("{what} is unreachable: {error}"),
        ),
    }
}

pub async fn handle(
    proxy: Arc<Proxy>,
    direction: Direction,
    port: u16,
    request: Request<Incoming>,
) -> Result<Response<ProxyBody>, Infallible> {
    let Some(runtime) = proxy.runtime() else {
        return Ok(error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "no configuration received yet".into(),
        ));
    };
    let started = Instant::now();
    Ok(match direction {
        Direction::Inbound => inbound(&proxy, &runtime, port, request, started).await,
        Direction::Outbound => outbound(&proxy, &runtime, port, request, started).await,
    })
}

async fn inbound(
    proxy: &Proxy,
    runtime: &super::Runtime,
    port: u16,
    mut request: Request<Incoming>,
    started: Instant,
) -> Response<ProxyBody> {
    let Some(target) = runtime.inbound.get(&port) else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("port {port} is closing"),
        );
    };
    let from_mesh = request.headers_mut().remove(SOURCE_HEADER).is_some();
    let what = format!("application at {}", target.application);
    let response = forward_or_bad_gateway(proxy, request, target.application, &what).await;
    if !from_mesh {
        // Traffic entering the mesh from outside: no source proxy counted it.
        let key = EdgeKey {
            source_service: String::new(),
            source_version: String::new(),
            destination_service: target.service.clone(),
            destination_version: target.version.clone(),
        };
        proxy.telemetry.record(
            Direction::Inbound,
            key,
            response.status().as_u16(),
            started.elapsed(),
        );
    }
    response
}

async fn outbound(
    proxy: &Proxy,
    runtime: &super::Runtime,
    port: u16,
    mut request: Request<Incoming>,
    started: Instant,
) -> Response<ProxyBody> {
    let Some(outbound) = runtime.outbound.get(&port) else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("port {port} is closing"),
        );
    };
    let source_service = runtime.config.service.clone();
    let source_version = runtime.config.version.clone().unwrap_or_default();
    let facts = crate::routing::RequestFacts {
        method: request.method().as_str(),
        path: request.uri().path(),
        query: request.uri().query(),
        headers: request.headers(),
    };
    let chosen = outbound.choose(&facts, fastrand::u64(..));
    let (upstream, response) = match chosen {
        Ok((_, upstream)) => {
            if let Ok(value) = HeaderValue::from_str(&source_service) {
                request.headers_mut().insert(SOURCE_HEADER, value);
            }
            let what = format!("upstream {} of {}", upstream.address, outbound.service);
            let response = forward_or_bad_gateway(proxy, request, upstream.address, &what).await;
            ((upstream.service, upstream.version), response)
        }
        Err(reason) => {
            let version = match &reason {
                NoUpstream::NoEndpoints { tags, .. } => {
                    tags.get("version").cloned().unwrap_or_default()
                }
                NoUpstream::NoRoute => String::new(),
            };
            let service = match &reason {
                NoUpstream::NoEndpoints { service, .. } => service.clone(),
                NoUpstream::NoRoute => outbound.service.clone(),
            };
            (
                (service, version),
                error_response(StatusCode::SERVICE_UNAVAILABLE, reason.to_string()),
            )
        }
    };
    let key = EdgeKey {
        source_service,
        source_version,
        destination_service: upstream.0,
        destination_version: upstream.1,
    };
    proxy.telemetry.record(
        Direction::Outbound,
        key,
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}
