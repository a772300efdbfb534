//! Sending one request to one endpoint: the request target, the HTTP version the client
//! speaks, hop-by-hop headers, HTTP/1.1 upgrades (WebSocket) passed through, and failures
//! classified so that retries and outlier detection can tell them apart.

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::uri::{PathAndQuery, Scheme};
use http::{Uri, Version};
use hyper::upgrade::OnUpgrade;

use std::sync::Arc;

use super::endpoint::Endpoint;
use super::pool::Pool;
use crate::error::ProxyError;
use crate::stack::{Request, Response};

/// Headers that describe one connection, not the request, and must not be forwarded.
static HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    HeaderName::from_static("keep-alive"),
    HeaderName::from_static("proxy-connection"),
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
];

pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // Most messages carry none or one: a pass over the names finds which, and only those are
    // removed (a removal is a hash lookup).
    let mut present = [false; HOP_BY_HOP.len()];
    for name in headers.keys() {
        if let Some(position) = HOP_BY_HOP.iter().position(|hop| hop == name) {
            present[position] = true;
        }
    }
    if !present.contains(&true) {
        return;
    }
    if present[0]
        && let Some(connection) = headers.get(header::CONNECTION)
    {
        // `keep-alive`, `close` and `upgrade` are the usual tokens and name nothing else to drop.
        let named: Vec<HeaderName> = connection
            .to_str()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|token| {
                !["keep-alive", "close", "upgrade"]
                    .iter()
                    .any(|usual| token.eq_ignore_ascii_case(usual))
            })
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .filter(|name| !HOP_BY_HOP.contains(name))
            .collect();
        for name in named {
            headers.remove(name);
        }
    }
    for (name, present) in HOP_BY_HOP.iter().zip(present) {
        if present {
            headers.remove(name);
        }
    }
}

/// `te: trailers` is the one hop-by-hop value that must survive (gRPC needs it).
fn keeps_te_trailers(headers: &HeaderMap) -> bool {
    headers
        .get(header::TE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .any(|v| v.trim().eq_ignore_ascii_case("trailers"))
        })
}

/// The version an HTTP/1 request arrived in at the calling proxy, when it travels between
/// proxies as HTTP/2 (see `Versions::Multiplexed`).
pub const ORIGINAL_VERSION: HeaderName = HeaderName::from_static("x-weft-orig-proto");

/// Marks an HTTP/1 request that is about to travel as HTTP/2 with its version.
pub fn mark_original_version(request: &mut Request) {
    let original = match request.version() {
        Version::HTTP_10 => HeaderValue::from_static("HTTP/1.0"),
        Version::HTTP_11 => HeaderValue::from_static("HTTP/1.1"),
        _ => return,
    };
    request.headers_mut().insert(ORIGINAL_VERSION, original);
}

/// Takes the mark of [`mark_original_version`] off a request that reached a listener, and gives
/// the request its original version back when a peer proxy verified by mTLS set the mark
/// (logs and policies then see what the caller spoke). Anyone else's mark is dropped.
pub fn restore_original_version(request: &mut Request, verified: bool) {
    let Some(original) = request.headers_mut().remove(ORIGINAL_VERSION) else {
        return;
    };
    if !verified || request.version() != Version::HTTP_2 {
        return;
    }
    match original.as_bytes() {
        b"HTTP/1.0" => *request.version_mut() = Version::HTTP_10,
        b"HTTP/1.1" => *request.version_mut() = Version::HTTP_11,
        _ => {}
    }
}

/// An HTTP/1.1 request asking to switch protocols (`connection: upgrade`).
pub fn upgrade_protocol(request: &Request) -> Option<HeaderValue> {
    if request.version() != Version::HTTP_11 {
        return None;
    }
    let asks = request
        .headers()
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|token| token.trim().eq_ignore_ascii_case("upgrade"));
    asks.then(|| request.headers().get(header::UPGRADE).cloned())
        .flatten()
}

/// Points the request at `endpoint` in the version `client` speaks.
pub fn retarget(request: &mut Request, endpoint: &Endpoint, http2: bool) {
    let path = request
        .uri()
        .path_and_query()
        .cloned()
        .unwrap_or_else(|| PathAndQuery::from_static("/"));
    let mut parts = http::uri::Parts::default();
    parts.scheme = Some(Scheme::HTTP);
    parts.authority = Some(endpoint.authority.clone());
    parts.path_and_query = Some(path);
    if let Ok(uri) = Uri::from_parts(parts) {
        *request.uri_mut() = uri;
    }
    *request.version_mut() = if http2 {
        Version::HTTP_2
    } else {
        Version::HTTP_11
    };
}

/// Sends `request` to `endpoint` over `pool`.
pub async fn send(
    pool: &Arc<Pool>,
    endpoint: &Endpoint,
    mut request: Request,
) -> Result<Response, ProxyError> {
    let http2 = pool.is_http2();
    let upgrade = if http2 {
        None
    } else {
        upgrade_protocol(&request)
    };
    let te_trailers = keeps_te_trailers(request.headers());
    strip_hop_by_hop(request.headers_mut());
    if te_trailers {
        request
            .headers_mut()
            .insert(header::TE, HeaderValue::from_static("trailers"));
    }
    let downstream_upgrade = match &upgrade {
        Some(protocol) => {
            let headers = request.headers_mut();
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(header::UPGRADE, protocol.clone());
            request.extensions_mut().remove::<OnUpgrade>()
        }
        None => None,
    };
    if !http2
        && !request.headers().contains_key(header::HOST)
        && let Some(authority) = request.uri().authority()
        && let Ok(host) = HeaderValue::from_str(authority.as_str())
    {
        // An HTTP/2 request carries its authority in the URI; HTTP/1.1 needs a Host header.
        request.headers_mut().insert(header::HOST, host);
    }
    retarget(&mut request, endpoint, http2);
    let mut response = pool.send(request).await?;
    if response.status() == http::StatusCode::SWITCHING_PROTOCOLS
        && let Some(downstream) = downstream_upgrade
    {
        let upstream = hyper::upgrade::on(&mut response);
        let protocol = response.headers().get(header::UPGRADE).cloned();
        tokio::spawn(bridge(downstream, upstream));
        strip_hop_by_hop(response.headers_mut());
        let headers = response.headers_mut();
        headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
        if let Some(protocol) = protocol {
            headers.insert(header::UPGRADE, protocol);
        }
    } else {
        strip_hop_by_hop(response.headers_mut());
    }
    Ok(response)
}

/// Copies bytes both ways between an upgraded client connection and the upstream one.
async fn bridge(downstream: OnUpgrade, upstream: OnUpgrade) {
    let (downstream, upstream) = match tokio::try_join!(downstream, upstream) {
        Ok(both) => both,
        Err(error) => {
            tracing::debug!(%error, "upgrade did not complete");
            return;
        }
    };
    let mut downstream = hyper_util::rt::TokioIo::new(downstream);
    let mut upstream = hyper_util::rt::TokioIo::new(upstream);
    if let Err(error) = tokio::io::copy_bidirectional(&mut downstream, &mut upstream).await {
        tracing::debug!(%error, "upgraded connection ended");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_verified_peers_restore_the_original_version() {
        let marked = || {
            let mut request = Request::new(crate::body::Body::empty());
            *request.version_mut() = Version::HTTP_11;
            mark_original_version(&mut request);
            *request.version_mut() = Version::HTTP_2;
            request
        };
        let mut from_peer = marked();
        restore_original_version(&mut from_peer, true);
        assert_eq!(from_peer.version(), Version::HTTP_11);
        assert!(!from_peer.headers().contains_key(ORIGINAL_VERSION));
        let mut from_anyone = marked();
        restore_original_version(&mut from_anyone, false);
        assert_eq!(from_anyone.version(), Version::HTTP_2);
        assert!(!from_anyone.headers().contains_key(ORIGINAL_VERSION));
    }

    #[test]
    fn strips_hop_by_hop_and_connection_named_headers() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::CONNECTION,
            HeaderValue::from_static("keep-alive, x-private"),
        );
        headers.insert("x-private", HeaderValue::from_static("1"));
        headers.insert("keep-alive", HeaderValue::from_static("timeout=5"));
        headers.insert("x-kept", HeaderValue::from_static("1"));
        strip_hop_by_hop(&mut headers);
        assert_eq!(
            headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(),
            vec!["x-kept"]
        );
    }
}
