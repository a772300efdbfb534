//! The proxy's session with its zone: register, apply each config version (ack or reject it),
//! send telemetry every second, say goodbye on shutdown. When the zone is unreachable the proxy
//! keeps its last good config and retries with backoff.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use weft_api::proto::dataplane_discovery_client::DataplaneDiscoveryClient;
use weft_api::proto::{
    CertificateRequest, ConfigAck, DataplaneHello, DataplaneMessage, EndpointHealth,
    EndpointHealthReport, Goodbye, TelemetryReport, ZoneToDataplane, dataplane_message,
    zone_to_dataplane,
};
use weft_api::sync::MAX_MESSAGE_BYTES;
use weft_api::telemetry::to_proto;
use weft_model::proxy::ProxyConfig;
use weft_runtime::grpc::Backoff;

use weft_runtime::stopped;

use crate::proxy::Proxy;

const TELEMETRY_INTERVAL: Duration = Duration::from_secs(1);
const FIRST_RETRY_BACKOFF: Duration = Duration::from_millis(500);
const MAX_RETRY_BACKOFF: Duration = Duration::from_secs(30);

/// A config version that was rejected and is tried again at `at`.
struct Retry {
    version: u64,
    json: String,
    backoff: Duration,
    at: tokio::time::Instant,
}

/// Sleeps until `at`; never resolves without one (the `select!` branch is disabled then).
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

pub struct Control {
    /// The zone's gRPC port: TLS, this proxy's token, reconnects.
    pub zone: weft_runtime::grpc::ControlClient,
    pub mesh: String,
    pub manifest_json: String,
    /// The services it serves: one certificate each.
    pub services: Vec<String>,
    pub proxy: Arc<Proxy>,
    /// True while a session with the zone is open.
    pub connected: Arc<AtomicBool>,
}

enum Ended {
    ZoneClosed,
    ShutDown,
}

impl Control {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            let result = self.session(&mut shutdown).await;
            self.connected.store(false, Ordering::SeqCst);
            match result {
                Ok(Ended::ShutDown) => return,
                Ok(Ended::ZoneClosed) => {
                    tracing::info!("zone closed the session; reconnecting");
                    backoff.reset();
                }
                Err(error) => {
                    tracing::warn!(zone = %self.zone.address, %error, "no session with the zone; keeping the last config and retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = stopped(&mut shutdown) => return,
            }
        }
    }

    async fn session(&self, shutdown: &mut watch::Receiver<bool>) -> Result<Ended, String> {
        let channel = tokio::select! {
            channel = self.zone.connect() => channel?,
            _ = stopped(shutdown) => return Ok(Ended::ShutDown),
        };
        let mut client = DataplaneDiscoveryClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let (sender, receiver) = mpsc::channel::<DataplaneMessage>(16);
        let hello = DataplaneHello {
            manifest_json: self.manifest_json.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
        };
        let _ = sender
            .send(message(dataplane_message::Message::Hello(hello)))
            .await;
        let request = self.zone.request(ReceiverStream::new(receiver));
        let mut inbound = client
            .session(request)
            .await
            .map_err(|status| format!("registration refused: {}", status.message()))?
            .into_inner();
        self.connected.store(true, Ordering::SeqCst);
        tracing::info!(zone = %self.zone.address, "registered with the zone");
        let mut ticker = tokio::time::interval(TELEMETRY_INTERVAL);
        // Health reports go when a check changes its mind, and once per session.
        let mut health_sent: Option<u64> = None;
        // A rejected version, retried with backoff: a busy port is often freed soon.
        let mut retry: Option<Retry> = None;
        loop {
            let retry_at = retry.as_ref().map(|pending| pending.at);
            tokio::select! {
                _ = sleep_until(retry_at), if retry_at.is_some() => {
                    let Some(mut pending) = retry.take() else { continue };
                    let ack = self.apply(pending.version, &pending.json).await;
                    if ack.accepted {
                        if sender.send(message(dataplane_message::Message::Ack(ack))).await.is_err() {
                            return Err("session closed".into());
                        }
                    } else {
                        pending.backoff = (pending.backoff * 2).min(MAX_RETRY_BACKOFF);
                        pending.at = tokio::time::Instant::now() + pending.backoff;
                        retry = Some(pending);
                    }
                }
                received = inbound.message() => {
                    match received {
                        Ok(Some(ZoneToDataplane { message: Some(zone_to_dataplane::Message::Config(update)) })) => {
                            let ack = self.apply(update.version, &update.config_json).await;
                            // A newer version replaces any pending retry; unreadable configs are not retried.
                            retry = (!ack.accepted && serde_json::from_str::<ProxyConfig>(&update.config_json).is_ok()).then(|| Retry {
                                version: update.version,
                                json: update.config_json.clone(),
                                backoff: FIRST_RETRY_BACKOFF,
                                at: tokio::time::Instant::now() + FIRST_RETRY_BACKOFF,
                            });
                            if sender.send(message(dataplane_message::Message::Ack(ack))).await.is_err() {
                                return Err("session closed".into());
                            }
                        }
                        Ok(Some(ZoneToDataplane { message: Some(zone_to_dataplane::Message::Certificate(certificate)) })) => {
                            if !certificate.error.is_empty() {
                                tracing::warn!(service = %certificate.service, error = %certificate.error, "the zone refused a certificate");
                            } else if let Err(error) = self.proxy.shared.identities.issued(
                                &certificate.service,
                                certificate.certificate_chain_pem,
                                certificate.trust_bundle_pem,
                            ) {
                                tracing::warn!(service = %certificate.service, %error, "certificate not installed");
                            }
                        }
                        Ok(Some(ZoneToDataplane { message: Some(zone_to_dataplane::Message::Renew(_)) })) => {
                            tracing::info!("the zone asks for new certificates");
                            self.proxy.shared.identities.renew_all();
                            for (service, csr_pem) in self.proxy.shared.identities.requests(&self.services) {
                                let request = message(dataplane_message::Message::CertificateRequest(CertificateRequest { service, csr_pem }));
                                if sender.send(request).await.is_err() {
                                    return Err("session closed".into());
                                }
                            }
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => return Ok(Ended::ZoneClosed),
                        Err(status) => return Err(format!("session ended: {}", status.message())),
                    }
                }
                _ = ticker.tick() => {
                    for (service, csr_pem) in self.proxy.shared.identities.requests(&self.services) {
                        let request = message(dataplane_message::Message::CertificateRequest(CertificateRequest { service, csr_pem }));
                        if sender.send(request).await.is_err() {
                            return Err("session closed".into());
                        }
                    }
                    let generation = self.proxy.shared.health.generation.load(std::sync::atomic::Ordering::Relaxed);
                    if health_sent != Some(generation) {
                        health_sent = Some(generation);
                        let endpoints: Vec<EndpointHealth> = self.proxy.shared.health.report().into_iter().map(|health| EndpointHealth {
                            dataplane: health.dataplane,
                            port: u32::from(health.port),
                            healthy: health.healthy,
                        }).collect();
                        let message = message(dataplane_message::Message::Health(EndpointHealthReport { endpoints }));
                        if sender.send(message).await.is_err() {
                            return Err("session closed".into());
                        }
                    }
                    let edges = self.proxy.telemetry().take();
                    if !edges.is_empty() {
                        let report = TelemetryReport {
                            mesh: self.mesh.clone(),
                            edges: edges.iter().map(|(key, counters)| to_proto(key, counters)).collect(),
                        };
                        if sender.send(message(dataplane_message::Message::Telemetry(report))).await.is_err() {
                            return Err("session closed".into());
                        }
                    }
                }
                _ = stopped(shutdown) => {
                    let _ = sender.send(message(dataplane_message::Message::Goodbye(Goodbye {}))).await;
                    drop(sender);
                    // Wait (briefly) for the zone to close its side, so the goodbye is delivered.
                    let _ = tokio::time::timeout(Duration::from_secs(2), async {
                        while let Ok(Some(_)) = inbound.message().await {}
                    }).await;
                    return Ok(Ended::ShutDown);
                }
            }
        }
    }

    async fn apply(&self, version: u64, json: &str) -> ConfigAck {
        let result = match serde_json::from_str::<ProxyConfig>(json) {
            Ok(config) => self.proxy.apply(version, config).await,
            Err(error) => Err(crate::error::ConfigError::Unreadable(error)),
        };
        match result {
            Ok(()) => {
                tracing::info!(version, "config applied");
                ConfigAck {
                    version,
                    accepted: true,
                    error: String::new(),
                }
            }
            Err(error) => {
                tracing::warn!(version, %error, "config rejected; keeping the previous one");
                ConfigAck {
                    version,
                    accepted: false,
                    error: error.to_string(),
                }
            }
        }
    }
}

fn message(message: dataplane_message::Message) -> DataplaneMessage {
    DataplaneMessage {
        message: Some(message),
    }
}
