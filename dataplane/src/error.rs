//! The proxy's errors: why a request could not be served, why a config was rejected. Each
//! request error maps to exactly one HTTP response here; the details go to the log.

use std::time::Duration;

use http::{HeaderValue, StatusCode};

use crate::body::{Body, BoxError};
use crate::stack::Response;

/// Header on responses the proxy produced itself because a limit was reached.
pub const OVERLOADED_HEADER: &str = "x-weft-overloaded";

/// Which timeout expired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeoutKind {
    Connect,
    Request,
    PerTry,
    StreamIdle,
}

impl std::fmt::Display for TimeoutKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TimeoutKind::Connect => "connect",
            TimeoutKind::Request => "request",
            TimeoutKind::PerTry => "per-try",
            TimeoutKind::StreamIdle => "stream idle",
        })
    }
}

/// Why a request got no answer from upstream.
#[derive(Debug, thiserror::Error)]
pub enum ProxyError {
    #[error("no configuration received yet")]
    NotConfigured,
    #[error("port {0} is closing")]
    PortClosing(u16),
    #[error("no route of {service} matches the request")]
    NoRoute { service: String },
    #[error("{0}")]
    NoEndpoints(String),
    #[error("no healthy endpoint of {service}: {reason}")]
    NoHealthyEndpoint { service: String, reason: String },
    #[error("cannot connect to {upstream}: {source}")]
    Connect {
        upstream: String,
        #[source]
        source: BoxError,
    },
    #[error("{upstream} closed or reset the connection: {source}")]
    Reset {
        upstream: String,
        /// The peer refused the stream before processing it (HTTP/2 REFUSED_STREAM).
        refused: bool,
        #[source]
        source: BoxError,
    },
    #[error("request to {upstream} failed: {source}")]
    Upstream {
        upstream: String,
        #[source]
        source: BoxError,
    },
    #[error("{kind} timeout of {} expired", humanize(*after))]
    Timeout { kind: TimeoutKind, after: Duration },
    #[error("{service} is overloaded: {limit} reached")]
    Overloaded {
        service: String,
        limit: &'static str,
    },
    #[error("rate limit reached")]
    RateLimited {
        status: StatusCode,
        retry_after: Duration,
    },
    #[error("fault injected")]
    FaultAbort { status: StatusCode },
    #[error("the request body cannot be read: {0}")]
    RequestBody(BoxError),
    #[error("{caller} may not call this service: {rule}")]
    Denied { caller: String, rule: String },
}

/// `1.5s`, `250ms`.
pub fn humanize(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis >= 1000 && millis.is_multiple_of(1000) {
        format!("{}s", millis / 1000)
    } else if millis >= 1000 {
        format!("{:.1}s", duration.as_secs_f64())
    } else {
        format!("{millis}ms")
    }
}

impl ProxyError {
    pub fn status(&self) -> StatusCode {
        match self {
            ProxyError::NotConfigured
            | ProxyError::PortClosing(_)
            | ProxyError::NoRoute { .. }
            | ProxyError::NoEndpoints(_)
            | ProxyError::NoHealthyEndpoint { .. }
            | ProxyError::Overloaded { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ProxyError::Connect { .. } | ProxyError::Reset { .. } | ProxyError::Upstream { .. } => {
                StatusCode::BAD_GATEWAY
            }
            ProxyError::Timeout { .. } => StatusCode::GATEWAY_TIMEOUT,
            ProxyError::RateLimited { status, .. } | ProxyError::FaultAbort { status } => *status,
            ProxyError::RequestBody(_) => StatusCode::BAD_REQUEST,
            ProxyError::Denied { .. } => StatusCode::FORBIDDEN,
        }
    }

    /// The response a client sees; the body names the problem in one line.
    pub fn into_response(self) -> Response {
        let status = self.status();
        let message = format!("weft-dp: {self}\n");
        let mut response = http::Response::new(Body::full(message));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        match &self {
            ProxyError::Overloaded { .. } => {
                headers.insert(OVERLOADED_HEADER, HeaderValue::from_static("true"));
            }
            ProxyError::RateLimited { retry_after, .. } => {
                // Whole seconds, rounded up, at least one.
                let seconds = retry_after.as_millis().div_ceil(1000).max(1);
                headers.insert(http::header::RETRY_AFTER, HeaderValue::from(seconds as u64));
            }
            _ => {}
        }
        if matches!(
            self,
            ProxyError::Connect { .. }
                | ProxyError::Reset { .. }
                | ProxyError::Upstream { .. }
                | ProxyError::RequestBody(_)
        ) {
            tracing::debug!(error = %self, "request failed");
        }
        response
    }
}

/// gRPC status codes the proxy answers with.
pub mod grpc_code {
    pub const UNKNOWN: u32 = 2;
    pub const DEADLINE_EXCEEDED: u32 = 4;
    pub const RESOURCE_EXHAUSTED: u32 = 8;
    pub const INTERNAL: u32 = 13;
    pub const UNAVAILABLE: u32 = 14;
    pub const UNAUTHENTICATED: u32 = 16;
    pub const PERMISSION_DENIED: u32 = 7;
    pub const UNIMPLEMENTED: u32 = 12;
}

impl ProxyError {
    /// The gRPC status of this error, following gRPC's mapping of HTTP statuses.
    pub fn grpc_status(&self) -> u32 {
        use grpc_code::*;
        match self {
            ProxyError::Timeout { .. } => DEADLINE_EXCEEDED,
            ProxyError::RateLimited { .. } => RESOURCE_EXHAUSTED,
            ProxyError::RequestBody(_) => INTERNAL,
            other => match other.status().as_u16() {
                400 => INTERNAL,
                401 => UNAUTHENTICATED,
                403 => PERMISSION_DENIED,
                404 => UNIMPLEMENTED,
                429 | 502 | 503 | 504 => UNAVAILABLE,
                _ => UNKNOWN,
            },
        }
    }

    /// The answer to a gRPC client: HTTP 200 with the status in the headers ("trailers-only"),
    /// which gRPC clients read as the call's status.
    pub fn into_grpc_response(self) -> Response {
        let code = self.grpc_status();
        let message = format!("weft-dp: {self}");
        let mut response = self.into_response();
        *response.body_mut() = Body::empty();
        *response.status_mut() = StatusCode::OK;
        let headers = response.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
        headers.insert("grpc-status", HeaderValue::from(code));
        // grpc-message is percent-encoded; our messages are plain ASCII apart from spaces.
        let encoded: String = message
            .chars()
            .map(|c| match c {
                ' '..='~' if c != '%' => c.to_string(),
                other => format!("%{:02X}", other as u32 & 0xff),
            })
            .collect();
        if let Ok(value) = HeaderValue::from_str(&encoded) {
            headers.insert("grpc-message", value);
        }
        response
    }
}

/// Whether a request is a gRPC call.
pub fn is_grpc(headers: &http::HeaderMap) -> bool {
    headers
        .get(http::header::CONTENT_TYPE)
        .is_some_and(|value| value.as_bytes().starts_with(b"application/grpc"))
}

/// Why a config version was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("config is not readable: {0}")]
    Unreadable(#[from] serde_json::Error),
    #[error("inbound {port}: invalid service address {address:?}")]
    ServiceAddress { port: u16, address: String },
    #[error("outbound {service}: {message}")]
    Outbound { service: String, message: String },
    #[error("{what}: {message}")]
    Policy { what: String, message: String },
    #[error("cannot listen on {address}: {error}")]
    Listen {
        address: std::net::SocketAddr,
        error: std::io::Error,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_name_themselves_and_limits_are_marked() {
        let timeout = ProxyError::Timeout {
            kind: TimeoutKind::Request,
            after: Duration::from_millis(1500),
        };
        assert_eq!(timeout.to_string(), "request timeout of 1.5s expired");
        assert_eq!(timeout.status(), StatusCode::GATEWAY_TIMEOUT);
        let overloaded = ProxyError::Overloaded {
            service: "catalog".into(),
            limit: "maxRequests",
        }
        .into_response();
        assert_eq!(overloaded.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(overloaded.headers()[OVERLOADED_HEADER], "true");
        let limited = ProxyError::RateLimited {
            status: StatusCode::TOO_MANY_REQUESTS,
            retry_after: Duration::from_millis(1200),
        }
        .into_response();
        assert_eq!(limited.headers()[http::header::RETRY_AFTER], "2");
    }
}
