//! Connections to one upstream endpoint: pooled HTTP/1.1 connections (one request at a time
//! each) or one shared HTTP/2 connection, opened with the outbound's connect timeout, closed
//! after its idle timeout, and counted against its connection limit.
//!
//! The pool belongs to the endpoint and is resolved when a config is compiled, so sending a
//! request looks nothing up: it takes an idle connection (or opens one), sends, and the
//! connection goes back to the pool when the response body has been read to its end.

use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::client::conn::{http1, http2};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::io::UpstreamIo;
use crate::body::{Body, BoxError};
use crate::error::{ProxyError, TimeoutKind};
use crate::stack::{Request, Response};

pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
/// Idle HTTP/1.1 connections kept per endpoint.
const MAX_IDLE: usize = 256;

/// How connections to one outbound's endpoints are made.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClientSettings {
    /// The outbound service; connection limits are per outbound.
    pub service: String,
    pub http2: bool,
    pub connect_timeout: Duration,
    pub idle_timeout: Duration,
    pub max_connections: Option<usize>,
    /// mTLS to peer proxies; `None` for plaintext (the local application, meshes without mTLS).
    pub mtls: Option<MtlsClient>,
}

/// mTLS towards the peer proxies of a mesh.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MtlsClient {
    pub mesh: String,
    /// The identity this proxy presents.
    pub own_service: String,
    /// Strict meshes: no plaintext, even before this proxy has its certificate.
    pub required: bool,
}

pub struct Pool {
    address: SocketAddr,
    /// `catalog at 127.0.0.1:8080`, for messages.
    name: String,
    connect_timeout: Duration,
    idle_timeout: Duration,
    limit: Option<Arc<Semaphore>>,
    kind: Kind,
    /// mTLS: settings, this proxy's certificates, and the service the endpoint must prove.
    mtls: Option<(MtlsClient, Arc<crate::identity::Identities>, String)>,
    /// The last connection made was mTLS.
    uses_tls: std::sync::atomic::AtomicBool,
}

enum Kind {
    Http1(Mutex<Idle>),
    Http2(Shared),
}

/// The one HTTP/2 connection of an endpoint. Requests that find none wait for a single
/// connection attempt instead of each opening their own.
#[derive(Default)]
struct Shared {
    current: Mutex<Option<http2::SendRequest<Body>>>,
    /// Held while a connection is being opened.
    connecting: tokio::sync::Mutex<()>,
    /// Counts failed attempts, so that requests waiting for one learn that it failed.
    failures: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn open(&self) -> Option<http2::SendRequest<Body>> {
        lock(&self.current)
            .as_ref()
            .filter(|sender| !sender.is_closed())
            .cloned()
    }
}

#[derive(Default)]
struct Idle {
    connections: Vec<(http1::SendRequest<Body>, Instant)>,
    /// A task closing connections idle for too long runs while any wait here.
    reaping: bool,
}

/// A connection's slot in the outbound's connection limit, held while it is open.
type Permit = Option<OwnedSemaphorePermit>;

impl Pool {
    pub fn new(
        address: SocketAddr,
        name: String,
        settings: &ClientSettings,
        limit: Option<Arc<Semaphore>>,
        mtls: Option<(Arc<crate::identity::Identities>, String)>,
    ) -> Pool {
        Pool {
            address,
            name,
            connect_timeout: settings.connect_timeout,
            idle_timeout: settings.idle_timeout,
            limit,
            mtls: settings
                .mtls
                .clone()
                .zip(mtls)
                .map(|(client, (identities, peer))| (client, identities, peer)),
            uses_tls: std::sync::atomic::AtomicBool::new(false),
            kind: if settings.http2 {
                Kind::Http2(Shared::default())
            } else {
                Kind::Http1(Mutex::new(Idle::default()))
            },
        }
    }

    pub fn is_http2(&self) -> bool {
        matches!(self.kind, Kind::Http2(_))
    }

    /// Whether requests on this pool travel over mTLS (its last connection did).
    pub fn uses_tls(&self) -> bool {
        self.uses_tls.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Sends `request` on a pooled connection (or a new one).
    pub async fn send(self: &Arc<Self>, request: Request) -> Result<Response, ProxyError> {
        match &self.kind {
            Kind::Http1(_) => self.send_http1(request).await,
            Kind::Http2(_) => self.send_http2(request).await,
        }
    }

    async fn send_http1(self: &Arc<Self>, mut request: Request) -> Result<Response, ProxyError> {
        // A pooled connection the peer closed meanwhile gives the request back unsent; it is
        // then sent once on a new connection.
        for fresh in [false, true] {
            let mut sender = match if fresh {
                None
            } else {
                self.checkout_http1().await
            } {
                Some(sender) => sender,
                None => self.connect_http1().await?,
            };
            match sender.try_send_request(request).await {
                Ok(response) => return Ok(self.returning(sender, response)),
                Err(mut error) => match error.take_message() {
                    Some(unsent) if !fresh => request = unsent,
                    _ => return Err(self.failed(error.into_error())),
                },
            }
        }
        Err(ProxyError::Reset {
            upstream: self.name.clone(),
            refused: true,
            source: "the connection closed before the request was sent".into(),
        })
    }

    /// The newest idle connection that is still open.
    async fn checkout_http1(&self) -> Option<http1::SendRequest<Body>> {
        let Kind::Http1(idle) = &self.kind else {
            return None;
        };
        loop {
            let (mut sender, since) = lock(idle).connections.pop()?;
            if sender.is_closed() || since.elapsed() >= self.idle_timeout {
                continue;
            }
            // Ready at once, or as soon as the connection has finished the last response.
            if sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    /// A new connection, mTLS when the mesh (and this proxy's certificate) allows; with its
    /// slot in the connection limit.
    pub async fn connect(&self) -> Result<(UpstreamIo, Permit), ProxyError> {
        let permit = match &self.limit {
            Some(limit) => {
                Some(
                    limit
                        .clone()
                        .acquire_owned()
                        .await
                        .map_err(|_| ProxyError::Connect {
                            upstream: self.name.clone(),
                            source: "the connection limit is closed".into(),
                        })?,
                )
            }
            None => None,
        };
        let stream = tokio::time::timeout(self.connect_timeout, TcpStream::connect(self.address))
            .await
            .map_err(|_| ProxyError::Timeout {
                kind: TimeoutKind::Connect,
                after: self.connect_timeout,
            })?
            .map_err(|error| ProxyError::Connect {
                upstream: self.name.clone(),
                source: Box::new(error),
            })?;
        let _ = stream.set_nodelay(true);
        let Some((settings, identities, peer)) = &self.mtls else {
            self.uses_tls
                .store(false, std::sync::atomic::Ordering::Relaxed);
            return Ok((UpstreamIo::Plain(stream), permit));
        };
        let Some(identity) = identities.get(&settings.own_service) else {
            if settings.required {
                return Err(ProxyError::Connect {
                    upstream: self.name.clone(),
                    source: "this proxy has no certificate yet, and the mesh requires mTLS".into(),
                });
            }
            self.uses_tls
                .store(false, std::sync::atomic::Ordering::Relaxed);
            return Ok((UpstreamIo::Plain(stream), permit));
        };
        let config = if self.is_http2() {
            identity.tls.client_h2.clone()
        } else {
            identity.tls.client_http1.clone()
        };
        let name =
            crate::tls::server_name(&settings.mesh, peer).ok_or_else(|| ProxyError::Connect {
                upstream: self.name.clone(),
                source: "no TLS name for the peer".into(),
            })?;
        let tls = tokio::time::timeout(
            self.connect_timeout,
            tokio_rustls::TlsConnector::from(config).connect(name, stream),
        )
        .await
        .map_err(|_| ProxyError::Timeout {
            kind: TimeoutKind::Connect,
            after: self.connect_timeout,
        })?
        .map_err(|error| ProxyError::Connect {
            upstream: self.name.clone(),
            source: format!("mTLS handshake: {error}").into(),
        })?;
        self.uses_tls
            .store(true, std::sync::atomic::Ordering::Relaxed);
        Ok((UpstreamIo::Tls(Box::new(tls)), permit))
    }

    async fn connect_http1(&self) -> Result<http1::SendRequest<Body>, ProxyError> {
        let (stream, permit) = self.connect().await?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|error| self.failed(error))?;
        tokio::spawn(async move {
            if let Err(error) = connection.with_upgrades().await {
                tracing::debug!(%error, "upstream connection ended");
            }
            drop(permit);
        });
        Ok(sender)
    }

    async fn send_http2(self: &Arc<Self>, request: Request) -> Result<Response, ProxyError> {
        let Kind::Http2(shared) = &self.kind else {
            return Err(self.failed_text("not an HTTP/2 pool"));
        };
        let mut sender = match shared.open() {
            Some(sender) => sender,
            None => self.connect_http2(shared).await?,
        };
        sender.ready().await.map_err(|error| self.failed(error))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|error| self.failed(error))?;
        Ok(response.map(Body::Incoming))
    }

    /// Opens the shared connection, or waits for the attempt under way and shares its result.
    async fn connect_http2(&self, shared: &Shared) -> Result<http2::SendRequest<Body>, ProxyError> {
        use std::sync::atomic::Ordering::SeqCst;
        let failures = shared.failures.load(SeqCst);
        let _connecting = shared.connecting.lock().await;
        if let Some(sender) = shared.open() {
            return Ok(sender);
        }
        if shared.failures.load(SeqCst) != failures {
            return Err(ProxyError::Connect {
                upstream: self.name.clone(),
                source: "the connection attempt this request waited for failed".into(),
            });
        }
        let opened = async {
            let (stream, permit) = self.connect().await?;
            let (sender, connection) = http2::Builder::new(TokioExecutor::new())
                .timer(TokioTimer::new())
                .keep_alive_interval(Duration::from_secs(30))
                .keep_alive_timeout(Duration::from_secs(10))
                .max_concurrent_reset_streams(256)
                .handshake(TokioIo::new(stream))
                .await
                .map_err(|error| self.failed(error))?;
            tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::debug!(%error, "upstream connection ended");
                }
                drop(permit);
            });
            Ok::<_, ProxyError>(sender)
        }
        .await;
        match opened {
            Ok(sender) => {
                *lock(&shared.current) = Some(sender.clone());
                Ok(sender)
            }
            Err(error) => {
                shared.failures.fetch_add(1, SeqCst);
                Err(error)
            }
        }
    }

    /// The response, whose body gives the connection back to the pool when it ends.
    fn returning(
        self: &Arc<Self>,
        sender: http1::SendRequest<Body>,
        response: http::Response<hyper::body::Incoming>,
    ) -> Response {
        if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            // The connection now belongs to the upgrade.
            return response.map(Body::Incoming);
        }
        if HttpBody::is_end_stream(response.body()) {
            self.give_back(sender);
            return response.map(Body::Incoming);
        }
        let pool = Arc::downgrade(self);
        response.map(|body| {
            Body::Pooled(Box::new(Pooled {
                body,
                sender: Some(sender),
                pool,
            }))
        })
    }

    fn give_back(self: &Arc<Self>, sender: http1::SendRequest<Body>) {
        let Kind::Http1(idle) = &self.kind else {
            return;
        };
        let start_reaper = {
            let mut idle = lock(idle);
            if idle.connections.len() >= MAX_IDLE {
                return;
            }
            idle.connections.push((sender, Instant::now()));
            !std::mem::replace(&mut idle.reaping, true)
        };
        if start_reaper {
            tokio::spawn(reap(Arc::downgrade(self), self.idle_timeout));
        }
    }

    fn failed(&self, error: hyper::Error) -> ProxyError {
        classify(&self.name, error)
    }

    fn failed_text(&self, text: &'static str) -> ProxyError {
        ProxyError::Upstream {
            upstream: self.name.clone(),
            source: text.into(),
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Closes connections idle for longer than `after`; stops when none are left.
async fn reap(pool: Weak<Pool>, after: Duration) {
    let mut ticker = tokio::time::interval((after / 2).max(Duration::from_millis(100)));
    ticker.tick().await;
    loop {
        ticker.tick().await;
        let Some(pool) = pool.upgrade() else { return };
        let Kind::Http1(idle) = &pool.kind else {
            return;
        };
        let mut idle = lock(idle);
        idle.connections
            .retain(|(sender, since)| !sender.is_closed() && since.elapsed() < after);
        if idle.connections.is_empty() {
            idle.reaping = false;
            return;
        }
    }
}

/// Sorts a failure into reset (closed, reset or refused before an answer) or other failure.
pub fn classify(upstream: &str, error: hyper::Error) -> ProxyError {
    let mut refused = false;
    let mut reset = error.is_incomplete_message() || error.is_closed() || error.is_canceled();
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&error);
    while let Some(current) = cause {
        if let Some(h2) = current.downcast_ref::<h2::Error>() {
            reset = true;
            refused |= h2.reason() == Some(h2::Reason::REFUSED_STREAM);
        }
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            reset |= matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionReset
                    | std::io::ErrorKind::ConnectionAborted
                    | std::io::ErrorKind::BrokenPipe
                    | std::io::ErrorKind::UnexpectedEof
            );
        }
        cause = current.source();
    }
    let source: BoxError = Box::new(error);
    if reset {
        ProxyError::Reset {
            upstream: upstream.to_string(),
            refused,
            source,
        }
    } else {
        ProxyError::Upstream {
            upstream: upstream.to_string(),
            source,
        }
    }
}

/// A response body that returns its connection to the pool once read to the end. A body
/// dropped early takes its connection with it (the connection closes).
pub struct Pooled {
    body: hyper::body::Incoming,
    sender: Option<http1::SendRequest<Body>>,
    pool: Weak<Pool>,
}

impl Pooled {
    fn finished(&mut self) {
        if let (Some(sender), Some(pool)) = (self.sender.take(), self.pool.upgrade()) {
            pool.give_back(sender);
        }
    }
}

impl HttpBody for Pooled {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.body).poll_frame(cx).map_err(Into::into);
        match &polled {
            Poll::Ready(None) => self.finished(),
            Poll::Ready(Some(Ok(_))) if self.body.is_end_stream() => self.finished(),
            Poll::Ready(Some(Err(_))) => self.sender = None,
            _ => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

/// Pools by endpoint and settings, shared by config versions; connection limits by outbound.
#[derive(Default)]
pub struct Pools {
    known: Mutex<std::collections::HashMap<(SocketAddr, ClientSettings), Arc<Pool>>>,
    limits: Mutex<std::collections::HashMap<(String, usize), Arc<Semaphore>>>,
}

/// An endpoint's pools for both HTTP versions (connections open only when used).
#[derive(Clone)]
pub struct PoolPair {
    pub http1: Arc<Pool>,
    pub http2: Arc<Pool>,
}

impl PoolPair {
    pub fn for_version(&self, version: http::Version) -> &Arc<Pool> {
        if version == http::Version::HTTP_2 {
            &self.http2
        } else {
            &self.http1
        }
    }
}

impl Pools {
    /// The pool of `address`; with mTLS the endpoint must prove to be `peer_service`.
    pub fn get(
        &self,
        address: SocketAddr,
        name: &str,
        settings: &ClientSettings,
        identities: &Arc<crate::identity::Identities>,
        peer_service: &str,
    ) -> Arc<Pool> {
        let limit = settings.max_connections.map(|max| {
            lock(&self.limits)
                .entry((settings.service.clone(), max))
                .or_insert_with(|| Arc::new(Semaphore::new(max)))
                .clone()
        });
        lock(&self.known)
            .entry((address, settings.clone()))
            .or_insert_with(|| {
                Arc::new(Pool::new(
                    address,
                    name.to_string(),
                    settings,
                    limit,
                    Some((identities.clone(), peer_service.to_string())),
                ))
            })
            .clone()
    }

    pub fn pair(
        &self,
        address: SocketAddr,
        name: &str,
        settings: &ClientSettings,
        identities: &Arc<crate::identity::Identities>,
        peer_service: &str,
    ) -> PoolPair {
        let http1 = ClientSettings {
            http2: false,
            ..settings.clone()
        };
        let http2 = ClientSettings {
            http2: true,
            ..settings.clone()
        };
        PoolPair {
            http1: self.get(address, name, &http1, identities, peer_service),
            http2: self.get(address, name, &http2, identities, peer_service),
        }
    }

    /// Forgets pools (and limits) no config uses; their connections close.
    pub fn retain_used(&self) {
        lock(&self.known).retain(|_, pool| Arc::strong_count(pool) > 1);
        lock(&self.limits).retain(|_, limit| Arc::strong_count(limit) > 1);
    }
}
