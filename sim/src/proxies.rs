//! Simulated proxies: many Dataplane sessions in one process, speaking the real protocol to a
//! real weft-zone (dataplane token, hello with the Dataplane manifest, configs, ACKs, telemetry
//! once a second when switched on, goodbye when one leaves), each recording what it received
//! and when. Many sessions share one HTTP/2 connection.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use prost::Message as _;
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use weft_api::proto::dataplane_discovery_client::DataplaneDiscoveryClient;
use weft_api::proto::{
    ConfigAck, DataplaneHello, DataplaneMessage, Goodbye, TelemetryReport, dataplane_message,
    zone_to_dataplane,
};
use weft_api::sync::MAX_MESSAGE_BYTES;
use weft_runtime::grpc::ControlClient;

/// One simulated proxy: a Dataplane serving `service` (one inbound) and calling `calls` (one
/// outbound each, so its config carries their endpoints).
#[derive(Clone, Debug)]
pub struct ProxySpec {
    pub mesh: String,
    pub name: String,
    pub service: String,
    pub version: String,
    pub port: u16,
    /// Services it sends to.
    pub calls: Vec<String>,
    /// A dataplane token for the mesh and service.
    pub token: String,
}

impl ProxySpec {
    pub fn manifest(&self) -> String {
        let outbound: Vec<serde_json::Value> = self
            .calls
            .iter()
            .enumerate()
            .map(|(index, service)| serde_json::json!({"port": 30_000 + index, "service": service}))
            .collect();
        serde_json::json!({
            "apiVersion": "weft.dev/v1alpha1",
            "kind": "Dataplane",
            "metadata": {"name": self.name, "mesh": self.mesh},
            "spec": {"networking": {
                "address": "127.0.0.1",
                "inbound": [{
                    "port": self.port,
                    "servicePort": self.port,
                    "tags": {"service": self.service, "version": self.version},
                }],
                "outbound": outbound,
            }},
        })
        .to_string()
    }
}

/// What one proxy has received so far.
#[derive(Clone, Debug, Default)]
pub struct Received {
    pub configs: u64,
    pub bytes: u64,
    pub version: u64,
    pub last_at: Option<Instant>,
    /// Sessions the zone refused or broke off; the proxy dials again, as weft-dp does.
    pub retries: u64,
    /// Why the last session ended, if one did.
    pub ended: Option<String>,
    /// Telemetry reports sent, and their encoded size.
    pub reports: u64,
    pub report_bytes: u64,
}

/// Running proxies; dropping it ends every session.
pub struct Fleet {
    received: Vec<Arc<Mutex<Received>>>,
    tasks: Vec<JoinHandle<()>>,
    /// Tells proxy `i` to say goodbye and stop (taken once it was told).
    leave: Vec<Option<oneshot::Sender<()>>>,
    /// How often each proxy reports telemetry; `None`: it does not.
    telemetry: watch::Sender<Option<std::time::Duration>>,
}

impl Fleet {
    /// Starts `proxies` against the zone at `address` (`https://…`, trusting `ca_pem`), at most
    /// `per_connection` sessions on one HTTP/2 connection.
    pub async fn start(
        address: &str,
        ca_pem: &str,
        proxies: Vec<ProxySpec>,
        per_connection: usize,
    ) -> Result<Fleet, String> {
        let mut fleet = Fleet {
            received: Vec::with_capacity(proxies.len()),
            tasks: Vec::with_capacity(proxies.len()),
            leave: Vec::with_capacity(proxies.len()),
            telemetry: watch::channel(None).0,
        };
        fleet.join(address, ca_pem, proxies, per_connection).await?;
        Ok(fleet)
    }

    /// Starts more proxies; they come after the others in [`Fleet::received`].
    pub async fn join(
        &mut self,
        address: &str,
        ca_pem: &str,
        proxies: Vec<ProxySpec>,
        per_connection: usize,
    ) -> Result<(), String> {
        for group in proxies.chunks(per_connection.max(1)) {
            // The connection's own token is unused: each session presents its proxy's.
            let client = ControlClient::new(address, "zone address", ca_pem, "unused")?;
            let channel = client.connect().await?;
            for spec in group {
                let record = Arc::new(Mutex::new(Received::default()));
                self.received.push(record.clone());
                let grpc = DataplaneDiscoveryClient::new(channel.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES);
                let (leave, told) = oneshot::channel();
                self.leave.push(Some(leave));
                let proxy = Proxy {
                    spec: spec.clone(),
                    record,
                    telemetry: self.telemetry.subscribe(),
                };
                self.tasks.push(tokio::spawn(run(grpc, proxy, told)));
            }
        }
        Ok(())
    }

    /// Proxy `index` says goodbye and stops (a proxy leaving on purpose, e.g. scaled down).
    pub fn leave(&mut self, index: usize) {
        if let Some(leave) = self.leave.get_mut(index).and_then(Option::take) {
            let _ = leave.send(());
        }
    }

    /// Switches every proxy's telemetry on (a report a second, as weft-dp sends) or off.
    pub fn report_telemetry(&self, on: bool) {
        self.report_telemetry_every(on.then_some(std::time::Duration::from_secs(1)));
    }

    /// Every proxy reports telemetry once per `every` (at least every 10 ms); `None` stops it.
    pub fn report_telemetry_every(&self, every: Option<std::time::Duration>) {
        self.telemetry
            .send_replace(every.map(|every| every.max(std::time::Duration::from_millis(10))));
    }

    /// A copy of what every proxy has received, in start order.
    pub fn received(&self) -> Vec<Received> {
        self.received
            .iter()
            .map(|record| {
                record
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .clone()
            })
            .collect()
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Backoff between attempts: doubles from 200 ms to 5 s, spread by the proxy's name.
fn backoff(attempt: u32, name: &str) -> std::time::Duration {
    let base = 200u64.saturating_mul(1 << attempt.min(5)).min(5_000);
    let spread = name.bytes().map(u64::from).sum::<u64>() % (base / 2 + 1);
    std::time::Duration::from_millis(base / 2 + spread)
}

/// One proxy's parts its sessions share.
struct Proxy {
    spec: ProxySpec,
    record: Arc<Mutex<Received>>,
    telemetry: watch::Receiver<Option<std::time::Duration>>,
}

impl Proxy {
    fn record(&self) -> std::sync::MutexGuard<'_, Received> {
        self.record
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// One second of this proxy's calls: ten requests to each service it calls.
    fn report(&self) -> TelemetryReport {
        let edges = self
            .spec
            .calls
            .iter()
            .map(|callee| {
                crate::mesh::edge(
                    (&self.spec.service, &self.spec.version),
                    (callee, "v1"),
                    10,
                    0,
                    2_000,
                )
            })
            .collect();
        TelemetryReport {
            mesh: self.spec.mesh.clone(),
            edges,
        }
    }
}

/// How a session ended.
enum Ended {
    /// The proxy was told to leave and said goodbye.
    Left,
    Failed(String),
}

async fn run(
    mut grpc: DataplaneDiscoveryClient<tonic::transport::Channel>,
    mut proxy: Proxy,
    mut leave: oneshot::Receiver<()>,
) {
    let mut attempt = 0;
    loop {
        let why = match session(&mut grpc, &mut proxy, &mut leave).await {
            Ended::Left => return,
            Ended::Failed(why) => why,
        };
        {
            let mut record = proxy.record();
            record.ended = Some(why);
            record.retries += 1;
        }
        tokio::select! {
            _ = tokio::time::sleep(backoff(attempt, &proxy.spec.name)) => {}
            _ = &mut leave => return,
        }
        attempt += 1;
    }
}

/// One session until it ends.
async fn session(
    grpc: &mut DataplaneDiscoveryClient<tonic::transport::Channel>,
    proxy: &mut Proxy,
    leave: &mut oneshot::Receiver<()>,
) -> Ended {
    let spec = &proxy.spec;
    let (outbound, receiver) = mpsc::channel::<DataplaneMessage>(8);
    let hello = DataplaneMessage {
        message: Some(dataplane_message::Message::Hello(DataplaneHello {
            manifest_json: spec.manifest(),
            version: format!("weft-sim {}", env!("CARGO_PKG_VERSION")),
        })),
    };
    if outbound.send(hello).await.is_err() {
        return Ended::Failed("could not send the hello".to_string());
    }
    let mut request = tonic::Request::new(ReceiverStream::new(receiver));
    match format!("Bearer {}", spec.token).parse() {
        Ok(value) => {
            request.metadata_mut().insert("authorization", value);
        }
        Err(_) => return Ended::Failed("the token is not a header value".to_string()),
    }
    let mut inbound = match grpc.session(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return Ended::Failed(format!("refused: {}", status.message())),
    };
    let ticker = |every: std::time::Duration| {
        let mut ticker = tokio::time::interval(every);
        // A proxy held up reports late, not twice.
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        ticker
    };
    let mut every = *proxy.telemetry.borrow_and_update();
    let mut ticks = ticker(every.unwrap_or(std::time::Duration::from_secs(1)));
    loop {
        let reporting = every.is_some();
        tokio::select! {
            message = inbound.message() => {
                let message = match message {
                    Ok(Some(message)) => message,
                    Ok(None) => return Ended::Failed("the zone closed the stream".to_string()),
                    Err(status) => return Ended::Failed(format!("the stream failed: {}", status.message())),
                };
                if let Some(zone_to_dataplane::Message::Config(update)) = message.message {
                    {
                        let mut record = proxy.record();
                        record.configs += 1;
                        record.bytes += update.config_json.len() as u64;
                        record.version = update.version;
                        record.last_at = Some(Instant::now());
                    }
                    let ack = DataplaneMessage {
                        message: Some(dataplane_message::Message::Ack(ConfigAck {
                            version: update.version,
                            accepted: true,
                            error: String::new(),
                        })),
                    };
                    if outbound.send(ack).await.is_err() {
                        return Ended::Failed("could not acknowledge".to_string());
                    }
                }
            }
            _ = ticks.tick(), if reporting => {
                let report = proxy.report();
                let size = report.encoded_len() as u64;
                let message = DataplaneMessage {
                    message: Some(dataplane_message::Message::Telemetry(report)),
                };
                if outbound.send(message).await.is_err() {
                    return Ended::Failed("could not report".to_string());
                }
                let mut record = proxy.record();
                record.reports += 1;
                record.report_bytes += size;
            }
            changed = proxy.telemetry.changed() => {
                if changed.is_ok() {
                    every = *proxy.telemetry.borrow_and_update();
                    if let Some(every) = every {
                        ticks = ticker(every);
                    }
                }
            }
            _ = &mut *leave => {
                let goodbye = DataplaneMessage {
                    message: Some(dataplane_message::Message::Goodbye(Goodbye {})),
                };
                let _ = outbound.send(goodbye).await;
                // The zone deregisters the proxy and ends the stream.
                while let Ok(Some(_)) = inbound.message().await {}
                return Ended::Left;
            }
        }
    }
}
