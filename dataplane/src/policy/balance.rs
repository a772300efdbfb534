//! LoadBalancing: which endpoint of a backend serves an attempt, and the send itself.
//!
//! Endpoints are grouped in locality tiers once per config (the local zone first when
//! `preferLocalZone`, then the `failover` zones in order, then the rest); a request goes to the
//! first tier with an available endpoint (healthy by active checks and not ejected), chosen by
//! RoundRobin, LeastRequest (fewest requests in flight of two random endpoints), P2CEwma
//! (lowest latency × load of two random endpoints) or RingHash (a consistent-hash ring on a
//! header, cookie or the source address: when endpoints come and go, only their share of keys
//! moves).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use http::HeaderName;
use weft_model::policy::load_balancing::{Algorithm, LoadBalancingConf};

use super::outlier::OutlierDetector;
use crate::clock;
use crate::error::ProxyError;
use crate::stack::{Request, Response, ResponseFuture};
use crate::upstream::endpoint::Endpoint;
use crate::upstream::forward;
use crate::upstream::pool::PoolPair;

/// Points per endpoint on a hash ring.
const RING_REPLICAS: u64 = 128;

/// The endpoint that served a response, and whether over mTLS, for telemetry and access logs.
#[derive(Clone)]
pub struct Served {
    pub endpoint: Arc<Endpoint>,
    pub mtls: bool,
}

/// The downstream peer of a request, set by the listener when a layer needs it.
#[derive(Clone, Copy, Debug)]
pub struct Peer(pub std::net::SocketAddr);

#[derive(Clone)]
pub struct Balance {
    inner: Arc<Balancer>,
}

struct Balancer {
    /// `service catalog with version=v1`, for messages.
    backend: String,
    service: String,
    endpoints: Vec<Arc<Endpoint>>,
    /// The connections of each endpoint, by index.
    pools: Vec<PoolPair>,
    tiers: Vec<Tier>,
    algorithm: Algorithm,
    hash: Option<HashSource>,
    next: AtomicUsize,
    versions: Versions,
    outlier: Option<Arc<OutlierDetector>>,
}

struct Tier {
    members: Vec<usize>,
    /// (point, index into `endpoints`), sorted by point; empty unless RingHash.
    ring: Vec<(u64, usize)>,
}

enum HashSource {
    Header(HeaderName),
    Cookie(String),
    SourceIp,
}

pub struct BalanceSpec<'a> {
    pub backend: String,
    pub service: String,
    /// Each endpoint with its connections.
    pub endpoints: Vec<(Arc<Endpoint>, PoolPair)>,
    pub conf: Option<&'a LoadBalancingConf>,
    /// The proxy's own zone.
    pub zone: Option<&'a str>,
    pub versions: Versions,
    pub outlier: Option<Arc<OutlierDetector>>,
}

/// Which HTTP version a request goes upstream in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// Upstream proxies: the version the request arrived in.
    Same,
    /// The local application: the version it speaks (HTTP/2 when true).
    Fixed { http2: bool },
    /// Peer proxies of a mesh with mTLS: HTTP/2 whatever the caller spoke, so that concurrent
    /// requests share one connection (one handshake per peer, not one per request in flight);
    /// HTTP/1.1 upgrades keep HTTP/1.1. The peer's inbound speaks its application's version.
    Multiplexed,
}

impl Balance {
    pub fn new(spec: BalanceSpec<'_>) -> Balance {
        let algorithm = spec
            .conf
            .and_then(|conf| conf.algorithm)
            .unwrap_or(Algorithm::RoundRobin);
        let hash = spec
            .conf
            .and_then(|conf| conf.hash_on.as_ref())
            .and_then(|hash_on| {
                if let Some(header) = &hash_on.header {
                    HeaderName::from_bytes(header.as_bytes())
                        .ok()
                        .map(HashSource::Header)
                } else if let Some(cookie) = &hash_on.cookie {
                    Some(HashSource::Cookie(cookie.clone()))
                } else if hash_on.source_ip == Some(true) {
                    Some(HashSource::SourceIp)
                } else {
                    None
                }
            });
        let (endpoints, pools): (Vec<Arc<Endpoint>>, Vec<PoolPair>) =
            spec.endpoints.into_iter().unzip();
        let tiers = tiers(&endpoints, spec.conf, spec.zone)
            .into_iter()
            .map(|members| Tier {
                ring: if algorithm == Algorithm::RingHash {
                    ring(&endpoints, &members)
                } else {
                    Vec::new()
                },
                members,
            })
            .collect();
        Balance {
            inner: Arc::new(Balancer {
                backend: spec.backend,
                service: spec.service,
                endpoints,
                pools,
                tiers,
                algorithm,
                hash,
                next: AtomicUsize::new(fastrand::usize(..1024)),
                versions: spec.versions,
                outlier: spec.outlier,
            }),
        }
    }

    /// Whether choosing needs the downstream address.
    pub fn needs_peer(&self) -> bool {
        matches!(self.inner.hash, Some(HashSource::SourceIp))
    }

    /// Chooses the endpoint for a request (`None` hashes nothing: a connection).
    pub fn pick(&self, request: Option<&Request>) -> Result<Arc<Endpoint>, ProxyError> {
        self.pick_index(request)
            .map(|index| self.inner.endpoints[index].clone())
    }

    /// The endpoint for a connection and its (HTTP/1.1-side) pool, which also opens plain
    /// byte streams.
    pub fn pick_connection(
        &self,
    ) -> Result<(Arc<Endpoint>, Arc<crate::upstream::pool::Pool>), ProxyError> {
        let index = self.pick_index(None)?;
        Ok((
            self.inner.endpoints[index].clone(),
            self.inner.pools[index].http1.clone(),
        ))
    }

    fn pick_index(&self, request: Option<&Request>) -> Result<usize, ProxyError> {
        let balancer = &*self.inner;
        if balancer.endpoints.is_empty() {
            return Err(ProxyError::NoEndpoints(format!(
                "no endpoints for {}",
                balancer.backend
            )));
        }
        let now = clock::now_nanos();
        let key = match (&balancer.hash, request) {
            (Some(source), Some(request)) => hash_key(source, request),
            _ => None,
        };
        for tier in &balancer.tiers {
            if let Some(index) = balancer.choose(tier, key, now) {
                return Ok(index);
            }
        }
        Err(ProxyError::NoHealthyEndpoint {
            service: balancer.service.clone(),
            reason: format!(
                "all {} endpoints of {} are failing health checks or ejected",
                balancer.endpoints.len(),
                balancer.backend
            ),
        })
    }

    /// Records an attempt's result for outlier detection.
    pub fn record(&self, endpoint: &Endpoint, failed: bool) {
        if let Some(outlier) = &self.inner.outlier {
            outlier.record(endpoint, failed, clock::now_nanos());
        }
    }

    fn serve(&self, request: Request) -> ResponseFuture {
        let this = self.clone();
        Box::pin(async move {
            let mut request = request;
            let index = this.pick_index(Some(&request))?;
            let balancer = &*this.inner;
            let endpoint = balancer.endpoints[index].clone();
            let version = match balancer.versions {
                Versions::Same => request.version(),
                Versions::Fixed { http2: true } => http::Version::HTTP_2,
                Versions::Fixed { http2: false } => http::Version::HTTP_11,
                Versions::Multiplexed if forward::upgrade_protocol(&request).is_some() => {
                    http::Version::HTTP_11
                }
                Versions::Multiplexed => {
                    forward::mark_original_version(&mut request);
                    http::Version::HTTP_2
                }
            };
            let pool = balancer.pools[index].for_version(version);
            let started = clock::now_nanos();
            let result = {
                let _in_flight = InFlight::start(&endpoint);
                forward::send(pool, &endpoint, request).await
            };
            let now = clock::now_nanos();
            endpoint.latency.observe(
                std::time::Duration::from_nanos(now.saturating_sub(started)),
                now,
            );
            let failed = match &result {
                Ok(response) => response.status().is_server_error(),
                Err(_) => true,
            };
            if let Some(outlier) = &balancer.outlier {
                outlier.record(&endpoint, failed, now);
            }
            let mut response: Response = result?;
            response.extensions_mut().insert(Served {
                endpoint,
                mtls: pool.uses_tls(),
            });
            Ok(response)
        })
    }
}

crate::stack_service!(Balance);

/// Counts a request in flight on an endpoint until dropped.
pub struct InFlight<'a>(&'a Endpoint);

impl<'a> InFlight<'a> {
    pub fn start(endpoint: &'a Endpoint) -> InFlight<'a> {
        endpoint.in_flight.fetch_add(1, Relaxed);
        InFlight(endpoint)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Relaxed);
    }
}

impl Balancer {
    fn choose(&self, tier: &Tier, key: Option<u64>, now: u64) -> Option<usize> {
        let members = &tier.members;
        if members.is_empty() {
            return None;
        }
        let available = |index: usize| self.endpoints[index].available(now);
        match self.algorithm {
            Algorithm::RingHash => {
                let key = key.unwrap_or_else(|| fastrand::u64(..));
                let start = tier.ring.partition_point(|(point, _)| *point < key);
                (0..tier.ring.len())
                    .map(|offset| tier.ring[(start + offset) % tier.ring.len()].1)
                    .find(|index| available(*index))
            }
            Algorithm::RoundRobin => {
                let start = self.next.fetch_add(1, Relaxed);
                (0..members.len())
                    .map(|offset| members[(start + offset) % members.len()])
                    .find(|index| available(*index))
            }
            Algorithm::LeastRequest | Algorithm::P2CEwma => {
                let cost = |index: usize| {
                    let endpoint = &self.endpoints[index];
                    let in_flight = endpoint.in_flight.load(Relaxed);
                    if self.algorithm == Algorithm::LeastRequest {
                        in_flight as f64
                    } else {
                        endpoint.latency.cost(in_flight)
                    }
                };
                let first = random_available(members, &available)?;
                if members.len() == 1 {
                    return Some(first);
                }
                // A second, different candidate; with few available ones, a scan finds it.
                let second = (0..4)
                    .map(|_| members[fastrand::usize(..members.len())])
                    .find(|index| *index != first && available(*index))
                    .or_else(|| {
                        members
                            .iter()
                            .copied()
                            .find(|index| *index != first && available(*index))
                    });
                Some(match second {
                    Some(second) if cost(second) < cost(first) => second,
                    _ => first,
                })
            }
        }
    }
}

fn random_available(members: &[usize], available: &impl Fn(usize) -> bool) -> Option<usize> {
    let start = fastrand::usize(..members.len());
    (0..members.len())
        .map(|offset| members[(start + offset) % members.len()])
        .find(|index| available(*index))
}

/// Locality tiers: indices into `endpoints`, most preferred first; every endpoint is in one.
fn tiers(
    endpoints: &[Arc<Endpoint>],
    conf: Option<&LoadBalancingConf>,
    zone: Option<&str>,
) -> Vec<Vec<usize>> {
    let locality = conf.and_then(|conf| conf.locality.as_ref());
    let prefer_local = locality.and_then(|l| l.prefer_local_zone).unwrap_or(false);
    let all: Vec<usize> = (0..endpoints.len()).collect();
    let (true, Some(zone)) = (prefer_local, zone) else {
        return vec![all];
    };
    // An endpoint without a zone label is in the proxy's own zone (registered by it).
    let in_zone =
        |index: &usize, wanted: &str| endpoints[*index].zone.as_deref().unwrap_or(zone) == wanted;
    let mut order: Vec<&str> = vec![zone];
    for failover in locality
        .and_then(|l| l.failover.as_ref())
        .into_iter()
        .flatten()
    {
        if failover.from == zone {
            for to in &failover.to {
                if !order.contains(&to.as_str()) {
                    order.push(to);
                }
            }
        }
    }
    let mut tiers: Vec<Vec<usize>> = order
        .iter()
        .map(|wanted| all.iter().copied().filter(|i| in_zone(i, wanted)).collect())
        .collect();
    let rest: Vec<usize> = all
        .iter()
        .copied()
        .filter(|i| !order.iter().any(|wanted| in_zone(i, wanted)))
        .collect();
    tiers.push(rest);
    tiers.retain(|tier| !tier.is_empty());
    tiers
}

fn ring(endpoints: &[Arc<Endpoint>], members: &[usize]) -> Vec<(u64, usize)> {
    let mut ring: Vec<(u64, usize)> = members
        .iter()
        .flat_map(|index| {
            let address = endpoints[*index].address.to_string();
            (0..RING_REPLICAS)
                .map(move |replica| (fnv1a(format!("{address}-{replica}").as_bytes()), *index))
        })
        .collect();
    ring.sort_unstable();
    ring
}

fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    // Spread the bits (FNV's high bits mix poorly for short inputs).
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^ (hash >> 33)
}

fn hash_key(source: &HashSource, request: &Request) -> Option<u64> {
    match source {
        HashSource::Header(name) => request
            .headers()
            .get(name)
            .map(|value| fnv1a(value.as_bytes())),
        HashSource::Cookie(name) => request
            .headers()
            .get_all(http::header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(';'))
            .find_map(|pair| {
                let (key, value) = pair.trim().split_once('=')?;
                (key == name).then(|| fnv1a(value.as_bytes()))
            }),
        HashSource::SourceIp => request
            .extensions()
            .get::<Peer>()
            .map(|peer| fnv1a(peer.0.ip().to_string().as_bytes())),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::net::SocketAddr;

    use super::*;
    use crate::telemetry::Telemetry;
    use crate::upstream::endpoint::{EndpointSpec, Endpoints};
    use crate::upstream::pool::{ClientSettings, Pools};
    use weft_model::policy::load_balancing::{Failover, HashOn, Locality};

    fn endpoints(ports: &[(u16, &str)]) -> Vec<Arc<Endpoint>> {
        let telemetry = Telemetry::default();
        let registry = Endpoints::default();
        ports
            .iter()
            .map(|(port, zone)| {
                registry.get(
                    &telemetry,
                    ("web", "v1"),
                    &EndpointSpec {
                        address: SocketAddr::from(([127, 0, 0, 1], *port)),
                        service: "catalog",
                        version: "v1",
                        zone: Some(zone),
                        dataplane: "d",
                    },
                )
            })
            .collect()
    }

    fn balance(endpoints: Vec<Arc<Endpoint>>, conf: LoadBalancingConf) -> Balance {
        let pools = Pools::default();
        let settings = ClientSettings {
            service: "catalog".into(),
            http2: false,
            connect_timeout: std::time::Duration::from_secs(1),
            idle_timeout: std::time::Duration::from_secs(1),
            max_connections: None,
            mtls: None,
        };
        let identities = Arc::default();
        Balance::new(BalanceSpec {
            backend: "service catalog".into(),
            service: "catalog".into(),
            endpoints: endpoints
                .into_iter()
                .map(|e| {
                    let pair = pools.pair(e.address, "catalog", &settings, &identities, "catalog");
                    (e, pair)
                })
                .collect(),
            conf: Some(&conf),
            zone: Some("east"),
            versions: Versions::Same,
            outlier: None,
        })
    }

    fn request(user: &str) -> Request {
        http::Request::builder()
            .header("x-user", user)
            .body(crate::body::Body::empty())
            .unwrap()
    }

    fn ring_hash() -> LoadBalancingConf {
        LoadBalancingConf {
            algorithm: Some(Algorithm::RingHash),
            hash_on: Some(HashOn {
                header: Some("x-user".into()),
                ..HashOn::default()
            }),
            locality: None,
        }
    }

    #[tokio::test]
    async fn ring_hash_is_sticky_and_moves_little_when_an_endpoint_goes() {
        let all = endpoints(&[(1, "east"), (2, "east"), (3, "east"), (4, "east")]);
        let four = balance(all.clone(), ring_hash());
        let three = balance(all[..3].to_vec(), ring_hash());
        let users: Vec<String> = (0..1000).map(|n| format!("user-{n}")).collect();
        let mut moved = 0;
        let mut spread: HashMap<u16, usize> = HashMap::new();
        for user in &users {
            let before = four.pick(Some(&request(user))).unwrap().address.port();
            assert_eq!(
                four.pick(Some(&request(user))).unwrap().address.port(),
                before
            );
            *spread.entry(before).or_default() += 1;
            let after = three.pick(Some(&request(user))).unwrap().address.port();
            if before != 4 && after != before {
                moved += 1;
            }
        }
        assert_eq!(moved, 0, "only the removed endpoint's keys move");
        assert!(spread.values().all(|n| *n > 150), "{spread:?}");
    }

    #[tokio::test]
    async fn locality_prefers_the_local_zone_then_fails_over_in_order() {
        let all = endpoints(&[(1, "east"), (2, "west"), (3, "north")]);
        let conf = LoadBalancingConf {
            algorithm: None,
            hash_on: None,
            locality: Some(Locality {
                prefer_local_zone: Some(true),
                failover: Some(vec![Failover {
                    from: "east".into(),
                    to: vec!["north".into()],
                }]),
            }),
        };
        let balance = balance(all.clone(), conf);
        let port = || balance.pick(None).unwrap().address.port();
        assert!((0..10).all(|_| port() == 1));
        all[0].healthy.store(false, Relaxed);
        assert!((0..10).all(|_| port() == 3), "failover to north first");
        all[2].healthy.store(false, Relaxed);
        assert_eq!(port(), 2);
        all[1].healthy.store(false, Relaxed);
        assert!(matches!(
            balance.pick(None),
            Err(ProxyError::NoHealthyEndpoint { .. })
        ));
    }

    #[tokio::test]
    async fn least_request_avoids_the_busy_endpoint() {
        let all = endpoints(&[(1, "east"), (2, "east")]);
        all[0].in_flight.store(10, Relaxed);
        let balance = balance(
            all,
            LoadBalancingConf {
                algorithm: Some(Algorithm::LeastRequest),
                ..LoadBalancingConf::default()
            },
        );
        assert!((0..20).all(|_| balance.pick(None).unwrap().address.port() == 2));
    }
}
