//! HealthCheck: active checks from this proxy to each endpoint of an outbound — an HTTP GET of
//! `http.path` expecting one of `expectedStatuses` (200 by default), or a TCP connect — every
//! `interval`, each bounded by `timeout`. `unhealthyThreshold` failures in a row take the
//! endpoint out of the balancer, `healthyThreshold` successes bring it back. Endpoints start
//! healthy. Results are reported to the zone ([`HealthChecks::report`]).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Empty;
use hyper_util::rt::TokioIo;
use weft_model::policy::health_check::HealthCheckConf;

use super::telemetry::SOURCE_HEADER;
use crate::upstream::endpoint::Endpoint;

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct Check {
    interval: Duration,
    timeout: Duration,
    unhealthy_threshold: u32,
    healthy_threshold: u32,
    /// `None` for a TCP check.
    http: Option<(String, Vec<u16>)>,
}

impl Check {
    fn new(conf: &HealthCheckConf) -> Check {
        let threshold = |value: Option<i64>, default: u32| {
            value
                .and_then(|n| u32::try_from(n).ok())
                .unwrap_or(default)
                .max(1)
        };
        Check {
            interval: super::duration(&conf.interval).unwrap_or(Duration::from_secs(5)),
            timeout: super::duration(&conf.timeout).unwrap_or(Duration::from_secs(1)),
            unhealthy_threshold: threshold(conf.unhealthy_threshold, 3),
            healthy_threshold: threshold(conf.healthy_threshold, 1),
            http: match (&conf.http, &conf.tcp) {
                (Some(http), _) => Some((
                    http.path.clone(),
                    http.expected_statuses
                        .iter()
                        .filter_map(|status| u16::try_from(*status).ok())
                        .collect(),
                )),
                (None, Some(_)) => None,
                (None, None) => Some(("/".to_string(), Vec::new())),
            },
        }
    }
}

struct Running {
    task: tokio::task::JoinHandle<()>,
    endpoint: Arc<Endpoint>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.task.abort();
        // Without checks the endpoint is trusted again.
        self.endpoint.healthy.store(true, Relaxed);
    }
}

/// The running checks, kept across config versions when unchanged.
#[derive(Default)]
pub struct HealthChecks {
    running: Mutex<HashMap<(std::net::SocketAddr, String, Check), Running>>,
    /// Bumped whenever an endpoint changes health.
    pub generation: Arc<AtomicU64>,
}

/// One endpoint's health as this proxy sees it, for the zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EndpointHealth {
    pub dataplane: String,
    pub service: String,
    pub port: u16,
    pub healthy: bool,
}

impl HealthChecks {
    /// Makes the running checks exactly `wanted`: (endpoint, conf, this proxy's service).
    pub fn reconcile(&self, wanted: Vec<(Arc<Endpoint>, &HealthCheckConf)>, source: &str) {
        let mut running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut next = HashMap::new();
        let mut started = false;
        for (endpoint, conf) in wanted {
            let check = Check::new(conf);
            let key = (endpoint.address, endpoint.service.clone(), check.clone());
            if next.contains_key(&key) {
                continue;
            }
            let entry = match running.remove(&key) {
                Some(existing) if Arc::ptr_eq(&existing.endpoint, &endpoint) => existing,
                _ => {
                    started = true;
                    Running {
                        task: tokio::spawn(run(
                            endpoint.clone(),
                            check,
                            source.to_string(),
                            self.generation.clone(),
                        )),
                        endpoint,
                    }
                }
            };
            next.insert(key, entry);
        }
        let stopped = running.len();
        *running = next;
        // The set of checked endpoints changed: the zone hears about it.
        if stopped > 0 || started {
            self.generation.fetch_add(1, Relaxed);
        }
    }

    /// The health of every checked endpoint.
    pub fn report(&self) -> Vec<EndpointHealth> {
        let running = self
            .running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut report: Vec<EndpointHealth> = running
            .values()
            .map(|running| EndpointHealth {
                dataplane: running.endpoint.dataplane.clone(),
                service: running.endpoint.service.clone(),
                port: running.endpoint.address.port(),
                healthy: running.endpoint.healthy.load(Relaxed),
            })
            .collect();
        report.sort_by(|a, b| (&a.dataplane, a.port).cmp(&(&b.dataplane, b.port)));
        report.dedup();
        report
    }
}

async fn run(endpoint: Arc<Endpoint>, check: Check, source: String, generation: Arc<AtomicU64>) {
    // Spread the first checks a little so a new config does not probe everything at once.
    let first = check.interval.min(Duration::from_millis(200));
    tokio::time::sleep(first.mul_f64(fastrand::f64())).await;
    let mut failures = 0u32;
    let mut successes = 0u32;
    let mut ticker = tokio::time::interval(check.interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let passed = tokio::time::timeout(check.timeout, probe(&endpoint, &check, &source))
            .await
            .unwrap_or(false);
        let healthy = endpoint.healthy.load(Relaxed);
        if passed {
            failures = 0;
            successes += 1;
            if !healthy && successes >= check.healthy_threshold {
                tracing::info!(endpoint = %endpoint.address, service = %endpoint.service, "endpoint healthy again");
                endpoint.healthy.store(true, Relaxed);
                generation.fetch_add(1, Relaxed);
            }
        } else {
            successes = 0;
            failures += 1;
            if healthy && failures >= check.unhealthy_threshold {
                tracing::warn!(endpoint = %endpoint.address, service = %endpoint.service, failures, "endpoint failed its health checks");
                endpoint.healthy.store(false, Relaxed);
                generation.fetch_add(1, Relaxed);
            }
        }
    }
}

async fn probe(endpoint: &Endpoint, check: &Check, source: &str) -> bool {
    let Ok(stream) = tokio::net::TcpStream::connect(endpoint.address).await else {
        return false;
    };
    let Some((path, expected)) = &check.http else {
        return true;
    };
    let Ok((mut sender, connection)) =
        hyper::client::conn::http1::handshake::<_, Empty<Bytes>>(TokioIo::new(stream)).await
    else {
        return false;
    };
    let connection = tokio::spawn(connection);
    let request = http::Request::get(path.as_str())
        .header(http::header::HOST, endpoint.service.as_str())
        .header(http::header::USER_AGENT, "weft-health-check")
        .header(SOURCE_HEADER, source)
        .body(Empty::new());
    let passed = match request {
        Ok(request) => match sender.send_request(request).await {
            Ok(response) => {
                let status = response.status().as_u16();
                if expected.is_empty() {
                    status == 200
                } else {
                    expected.contains(&status)
                }
            }
            Err(_) => false,
        },
        Err(_) => false,
    };
    connection.abort();
    passed
}
