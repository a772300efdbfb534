//! TrafficRoute filters of one rule: request and response header changes, redirects, URL
//! rewrites (whole path, matched prefix, host), and mirroring a share of the requests to another
//! backend — fire and forget: the copy's answer is discarded and never delays or changes the
//! response.

use std::sync::Arc;

use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Uri};
use http_body::Body as _;
use http_body_util::BodyExt;
use tower::Layer;
use weft_model::traffic_route::{Filter, HeaderModifier, PathRewrite};

use super::retry::REPLAY_LIMIT;
use super::roll;
use crate::body::{Body, ReplayBody};
use crate::error::ConfigError;
use crate::stack::{Request, Response, ResponseFuture, Stack};

#[derive(Clone, Debug, Default)]
struct HeaderChanges {
    set: Vec<(HeaderName, HeaderValue)>,
    add: Vec<(HeaderName, HeaderValue)>,
    remove: Vec<HeaderName>,
}

impl HeaderChanges {
    fn compile(modifier: &HeaderModifier) -> Result<HeaderChanges, String> {
        let pair = |name: &str, value: &str| -> Result<(HeaderName, HeaderValue), String> {
            Ok((
                HeaderName::from_bytes(name.as_bytes())
                    .map_err(|_| format!("header name {name:?}"))?,
                HeaderValue::from_str(value).map_err(|_| format!("header value {value:?}"))?,
            ))
        };
        Ok(HeaderChanges {
            set: modifier
                .set
                .iter()
                .map(|h| pair(&h.name, &h.value))
                .collect::<Result<_, _>>()?,
            add: modifier
                .add
                .iter()
                .map(|h| pair(&h.name, &h.value))
                .collect::<Result<_, _>>()?,
            remove: modifier
                .remove
                .iter()
                .map(|name| {
                    HeaderName::from_bytes(name.as_bytes())
                        .map_err(|_| format!("header name {name:?}"))
                })
                .collect::<Result<_, _>>()?,
        })
    }

    fn apply(&self, headers: &mut HeaderMap) {
        for (name, value) in &self.set {
            headers.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.add {
            headers.append(name.clone(), value.clone());
        }
        for name in &self.remove {
            headers.remove(name);
        }
    }
}

#[derive(Clone, Debug)]
enum PathChange {
    Full(String),
    Prefix(String),
}

impl PathChange {
    fn compile(rewrite: &PathRewrite) -> Option<PathChange> {
        rewrite
            .replace_full_path
            .clone()
            .map(PathChange::Full)
            .or_else(|| rewrite.replace_prefix_match.clone().map(PathChange::Prefix))
    }

    /// The new path for `path`, which the rule matched with `prefix`.
    fn apply(&self, path: &str, prefix: Option<&str>) -> String {
        match self {
            PathChange::Full(full) => full.clone(),
            PathChange::Prefix(replacement) => {
                let prefix = prefix.unwrap_or("/").trim_end_matches('/');
                let rest = path.strip_prefix(prefix).unwrap_or(path);
                let joined = format!(
                    "{}/{}",
                    replacement.trim_end_matches('/'),
                    rest.trim_start_matches('/')
                );
                if joined.len() > 1 && !rest.ends_with('/') && rest.is_empty() {
                    joined.trim_end_matches('/').to_string()
                } else {
                    joined
                }
            }
        }
    }
}

#[derive(Clone, Debug)]
struct Redirect {
    scheme: Option<String>,
    hostname: Option<String>,
    port: Option<u16>,
    path: Option<PathChange>,
    status: StatusCode,
}

#[derive(Clone, Debug)]
struct Rewrite {
    hostname: Option<HeaderValue>,
    path: Option<PathChange>,
}

#[derive(Clone)]
struct Mirror {
    percent: f64,
    to: Stack,
}

#[derive(Clone, Default)]
pub struct FiltersLayer {
    request: Vec<HeaderChanges>,
    response: Vec<HeaderChanges>,
    redirect: Option<Redirect>,
    rewrite: Option<Rewrite>,
    mirrors: Vec<Mirror>,
    /// The rule's path prefix, for prefix rewrites.
    prefix: Option<Arc<str>>,
}

impl FiltersLayer {
    /// Compiles a rule's filters; `mirror` builds the stack that sends copies to a backend.
    pub fn new(
        filters: &[Filter],
        prefix: Option<&str>,
        mut mirror: impl FnMut(&weft_model::traffic_route::Backend) -> Stack,
    ) -> Result<Option<FiltersLayer>, ConfigError> {
        if filters.is_empty() {
            return Ok(None);
        }
        let invalid = |message: String| ConfigError::Policy {
            what: "route filter".into(),
            message,
        };
        let mut layer = FiltersLayer {
            prefix: prefix.map(Arc::from),
            ..FiltersLayer::default()
        };
        for filter in filters {
            if let Some(modifier) = &filter.request_header_modifier {
                layer
                    .request
                    .push(HeaderChanges::compile(modifier).map_err(invalid)?);
            }
            if let Some(modifier) = &filter.response_header_modifier {
                layer
                    .response
                    .push(HeaderChanges::compile(modifier).map_err(invalid)?);
            }
            if let Some(redirect) = &filter.request_redirect {
                let status = redirect
                    .status_code
                    .and_then(|code| u16::try_from(code).ok())
                    .and_then(|code| StatusCode::from_u16(code).ok())
                    .unwrap_or(StatusCode::FOUND);
                layer.redirect = Some(Redirect {
                    scheme: redirect.scheme.clone(),
                    hostname: redirect.hostname.clone(),
                    port: redirect.port.and_then(|port| u16::try_from(port).ok()),
                    path: redirect.path.as_ref().and_then(PathChange::compile),
                    status,
                });
            }
            if let Some(rewrite) = &filter.url_rewrite {
                layer.rewrite = Some(Rewrite {
                    hostname: rewrite
                        .hostname
                        .as_deref()
                        .map(HeaderValue::from_str)
                        .transpose()
                        .map_err(|_| invalid("rewrite hostname".into()))?,
                    path: rewrite.path.as_ref().and_then(PathChange::compile),
                });
            }
            if let Some(copy) = &filter.request_mirror
                && let Some(backend) = &copy.backend
            {
                layer.mirrors.push(Mirror {
                    percent: copy.percentage.unwrap_or(100.0),
                    to: mirror(backend),
                });
            }
        }
        Ok(Some(layer))
    }
}

#[derive(Clone)]
pub struct Filters {
    inner: Stack,
    layer: Arc<FiltersLayer>,
}

impl Layer<Stack> for FiltersLayer {
    type Service = Filters;

    fn layer(&self, inner: Stack) -> Filters {
        Filters {
            inner,
            layer: Arc::new(self.clone()),
        }
    }
}

/// Host of a request: the authority (HTTP/2) or the Host header, without a port.
fn host(request: &Request) -> Option<&str> {
    let host = request
        .uri()
        .authority()
        .map(|authority| authority.as_str())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|value| value.to_str().ok())
        })?;
    Some(host.rsplit_once(':').map_or(host, |(name, _)| name))
}

fn with_path(uri: &Uri, path: &str) -> Option<Uri> {
    let target = match uri.query() {
        Some(query) => format!("{path}?{query}"),
        None => path.to_string(),
    };
    let mut parts = uri.clone().into_parts();
    parts.path_and_query = Some(target.parse().ok()?);
    Uri::from_parts(parts).ok()
}

impl Filters {
    fn serve(&self, mut request: Request) -> ResponseFuture {
        let layer = &*self.layer;
        if let Some(redirect) = &layer.redirect {
            return Box::pin(std::future::ready(Ok(redirect_response(
                redirect,
                &request,
                layer.prefix.as_deref(),
            ))));
        }
        for changes in &layer.request {
            changes.apply(request.headers_mut());
        }
        if let Some(rewrite) = &layer.rewrite {
            if let Some(hostname) = &rewrite.hostname {
                request.headers_mut().insert(header::HOST, hostname.clone());
            }
            if let Some(change) = &rewrite.path {
                let path = change.apply(request.uri().path(), layer.prefix.as_deref());
                if let Some(uri) = with_path(request.uri(), &path) {
                    *request.uri_mut() = uri;
                }
            }
        }
        let mirrors: Vec<&Mirror> = layer
            .mirrors
            .iter()
            .filter(|mirror| roll(mirror.percent))
            .collect();
        let copies = if mirrors.is_empty() {
            None
        } else {
            let (parts, body) = request.into_parts();
            let replay = (!body.is_end_stream()).then(|| ReplayBody::new(body, REPLAY_LIMIT));
            let body = match &replay {
                Some(replay) => replay.replay().map(Body::Replay).unwrap_or_default(),
                None => Body::empty(),
            };
            request = http::Request::from_parts(parts, body);
            let head = (
                request.method().clone(),
                request.uri().clone(),
                request.headers().clone(),
            );
            let targets: Vec<Stack> = mirrors.iter().map(|mirror| mirror.to.clone()).collect();
            Some((head, replay, targets))
        };
        let future = self.inner.call(request);
        let this = self.clone();
        Box::pin(async move {
            let result = future.await;
            if let Some(((method, uri, headers), replay, targets)) = copies {
                // The copy goes once the request body has been read in full (and was small
                // enough to keep); a copy can never hold up or change the response.
                if replay.as_ref().is_none_or(ReplayBody::is_complete) {
                    for target in targets {
                        let body = replay
                            .as_ref()
                            .and_then(ReplayBody::replay)
                            .map(Body::Replay)
                            .unwrap_or_default();
                        let mut copy = http::Request::new(body);
                        *copy.method_mut() = method.clone();
                        *copy.uri_mut() = uri.clone();
                        *copy.headers_mut() = headers.clone();
                        tokio::spawn(async move {
                            match target.call(copy).await {
                                Ok(response) => {
                                    let _ = response.into_body().collect().await;
                                }
                                Err(error) => tracing::debug!(%error, "mirrored request failed"),
                            }
                        });
                    }
                }
            }
            let mut response: Response = result?;
            for changes in &this.layer.response {
                changes.apply(response.headers_mut());
            }
            Ok(response)
        })
    }
}

crate::stack_service!(Filters);

fn redirect_response(redirect: &Redirect, request: &Request, prefix: Option<&str>) -> Response {
    let scheme = redirect.scheme.as_deref().unwrap_or("http");
    let hostname = redirect
        .hostname
        .as_deref()
        .or_else(|| host(request))
        .unwrap_or("localhost");
    let port = match redirect.port {
        Some(port) if !matches!((scheme, port), ("http", 80) | ("https", 443)) => {
            format!(":{port}")
        }
        _ => String::new(),
    };
    let path = match &redirect.path {
        Some(change) => change.apply(request.uri().path(), prefix),
        None => request.uri().path().to_string(),
    };
    let query = request
        .uri()
        .query()
        .map(|query| format!("?{query}"))
        .unwrap_or_default();
    let location = format!("{scheme}://{hostname}{port}{path}{query}");
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = redirect.status;
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_rewrites_keep_the_rest_of_the_path() {
        let change = PathChange::Prefix("/v2".into());
        assert_eq!(change.apply("/api/items", Some("/api")), "/v2/items");
        assert_eq!(change.apply("/api", Some("/api")), "/v2");
        assert_eq!(change.apply("/api/", Some("/api/")), "/v2/");
        let root = PathChange::Prefix("/".into());
        assert_eq!(root.apply("/api/items", Some("/api")), "/items");
        assert_eq!(
            PathChange::Full("/health".into()).apply("/x", None),
            "/health"
        );
    }
}
