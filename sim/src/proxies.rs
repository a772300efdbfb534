//! Simulated proxies: many Dataplane sessions in one process, speaking the real protocol to a
//! real weft-zone (dataplane token, hello with the Dataplane manifest, configs, ACKs), each
//! recording what it received and when. Many sessions share one HTTP/2 connection.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_stream::wrappers::ReceiverStream;
use weft_api::proto::dataplane_discovery_client::DataplaneDiscoveryClient;
use weft_api::proto::{
    ConfigAck, DataplaneHello, DataplaneMessage, dataplane_message, zone_to_dataplane,
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
}

/// Running proxies; dropping it ends every session.
pub struct Fleet {
    received: Vec<Arc<Mutex<Received>>>,
    tasks: Vec<JoinHandle<()>>,
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
        let mut received = Vec::with_capacity(proxies.len());
        let mut tasks = Vec::with_capacity(proxies.len());
        for group in proxies.chunks(per_connection.max(1)) {
            // The connection's own token is unused: each session presents its proxy's.
            let client = ControlClient::new(address, "zone address", ca_pem, "unused")?;
            let channel = client.connect().await?;
            for spec in group {
                let record = Arc::new(Mutex::new(Received::default()));
                received.push(record.clone());
                let grpc = DataplaneDiscoveryClient::new(channel.clone())
                    .max_decoding_message_size(MAX_MESSAGE_BYTES)
                    .max_encoding_message_size(MAX_MESSAGE_BYTES);
                tasks.push(tokio::spawn(run(grpc, spec.clone(), record)));
            }
        }
        Ok(Fleet { received, tasks })
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

async fn run(
    mut grpc: DataplaneDiscoveryClient<tonic::transport::Channel>,
    spec: ProxySpec,
    record: Arc<Mutex<Received>>,
) {
    let mut attempt = 0;
    loop {
        let ended = session(&mut grpc, &spec, &record).await;
        {
            let mut record = record
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            record.ended = Some(ended);
            record.retries += 1;
        }
        tokio::time::sleep(backoff(attempt, &spec.name)).await;
        attempt += 1;
    }
}

/// One session until it ends; returns why.
async fn session(
    grpc: &mut DataplaneDiscoveryClient<tonic::transport::Channel>,
    spec: &ProxySpec,
    record: &Mutex<Received>,
) -> String {
    let (outbound, receiver) = mpsc::channel::<DataplaneMessage>(8);
    let hello = DataplaneMessage {
        message: Some(dataplane_message::Message::Hello(DataplaneHello {
            manifest_json: spec.manifest(),
            version: format!("weft-sim {}", env!("CARGO_PKG_VERSION")),
        })),
    };
    if outbound.send(hello).await.is_err() {
        return "could not send the hello".to_string();
    }
    let mut request = tonic::Request::new(ReceiverStream::new(receiver));
    match format!("Bearer {}", spec.token).parse() {
        Ok(value) => {
            request.metadata_mut().insert("authorization", value);
        }
        Err(_) => return "the token is not a header value".to_string(),
    }
    let mut inbound = match grpc.session(request).await {
        Ok(response) => response.into_inner(),
        Err(status) => return format!("refused: {}", status.message()),
    };
    loop {
        let message = match inbound.message().await {
            Ok(Some(message)) => message,
            Ok(None) => return "the zone closed the stream".to_string(),
            Err(status) => return format!("the stream failed: {}", status.message()),
        };
        if let Some(zone_to_dataplane::Message::Config(update)) = message.message {
            {
                let mut record = record
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
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
                return "could not acknowledge".to_string();
            }
        }
    }
}
