//! A simulated zone: dials weft-global's federation port with a real zone token, registers
//! dataplanes and reports telemetry as weft-zone does, and reads (and drops) what global sends.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use weft_api::proto::zone_message::Message;
use weft_api::proto::zone_sync_client::ZoneSyncClient;
use weft_api::proto::{
    BatchKind, EdgeStats, GlobalMessage, Resource, ResourceBatch, TelemetryBatch, TelemetryReport,
    ZoneHello, ZoneMessage, global_message,
};
use weft_api::sync::MAX_MESSAGE_BYTES;
use weft_runtime::grpc::ControlClient;

/// An open federation stream to global, speaking for zone `name`.
pub struct SimZone {
    pub name: String,
    outbound: mpsc::Sender<ZoneMessage>,
    revision: u64,
    /// What global sent, recorded by the reader task.
    inbox: Arc<Mutex<Inbox>>,
}

/// What a simulated zone received from global.
#[derive(Default)]
struct Inbox {
    messages: u64,
    /// Other zones' dataplanes it holds.
    dataplanes: HashSet<String>,
    /// When each other resource (`Kind/name`) last arrived.
    arrivals: HashMap<String, Instant>,
}

impl SimZone {
    /// Connects as zone `name` to global at `address` (`https://…`), trusting `ca_pem`, with
    /// `token` (a zone token for this name), and waits for global's hello.
    pub async fn connect(
        address: &str,
        ca_pem: &str,
        token: &str,
        name: &str,
    ) -> Result<SimZone, String> {
        let client = ControlClient::new(address, "global address", ca_pem, token)?;
        let channel = client.connect().await?;
        let mut grpc = ZoneSyncClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let (outbound, receiver) = mpsc::channel::<ZoneMessage>(16);
        let hello = ZoneHello {
            zone: name.to_string(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            zone_store_id: format!("sim-{name}-{}", std::process::id()),
            global_store_id: String::new(),
            global_revision: 0,
        };
        outbound
            .send(ZoneMessage {
                message: Some(Message::Hello(hello)),
            })
            .await
            .map_err(|_| "stream closed before hello".to_string())?;
        let mut inbound = grpc
            .sync(client.request(ReceiverStream::new(receiver)))
            .await
            .map_err(|status| format!("sync refused: {}", status.message()))?
            .into_inner();
        match inbound.message().await {
            Ok(Some(GlobalMessage {
                message: Some(global_message::Message::Hello(_)),
            })) => {}
            Ok(_) => return Err("global did not answer with its hello".to_string()),
            Err(status) => return Err(format!("global ended the stream: {}", status.message())),
        }
        let inbox = Arc::new(Mutex::new(Inbox::default()));
        let recorder = inbox.clone();
        tokio::spawn(async move {
            while let Ok(Some(message)) = inbound.message().await {
                let now = Instant::now();
                let mut inbox = recorder
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                inbox.messages += 1;
                let Some(global_message::Message::Resources(batch)) = message.message else {
                    continue;
                };
                for resource in batch.resources {
                    if resource.kind == "Dataplane" {
                        if resource.deleted {
                            inbox.dataplanes.remove(&resource.name);
                        } else {
                            inbox.dataplanes.insert(resource.name);
                        }
                    } else {
                        inbox
                            .arrivals
                            .insert(format!("{}/{}", resource.kind, resource.name), now);
                    }
                }
            }
        });
        Ok(SimZone {
            name: name.to_string(),
            outbound,
            revision: 0,
            inbox,
        })
    }

    /// Registers `dataplanes` (name, manifest JSON) in `mesh` as the zone's whole inventory.
    pub async fn register(
        &mut self,
        mesh: &str,
        dataplanes: &[(String, String)],
    ) -> Result<(), String> {
        let resources = dataplanes
            .iter()
            .map(|(name, manifest)| {
                self.revision += 1;
                Resource {
                    kind: "Dataplane".to_string(),
                    mesh: mesh.to_string(),
                    name: name.clone(),
                    revision: self.revision,
                    deleted: false,
                    manifest_json: manifest.clone(),
                    zone: self.name.clone(),
                }
            })
            .collect();
        self.send(Message::Resources(ResourceBatch {
            kind: BatchKind::SnapshotEnd.into(),
            resources,
            revision: self.revision,
        }))
        .await
    }

    /// Reports one period of traffic for `mesh`.
    pub async fn report(&self, mesh: &str, edges: Vec<EdgeStats>) -> Result<(), String> {
        self.send(Message::Telemetry(TelemetryBatch {
            reports: vec![TelemetryReport {
                mesh: mesh.to_string(),
                edges,
            }],
        }))
        .await
    }

    fn inbox(&self) -> std::sync::MutexGuard<'_, Inbox> {
        self.inbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// How many messages global has sent on this stream so far.
    pub fn received(&self) -> u64 {
        self.inbox().messages
    }

    /// How many other zones' dataplanes global has sent (and not deleted).
    pub fn dataplanes_known(&self) -> usize {
        self.inbox().dataplanes.len()
    }

    /// When resource `kind`/`name` (not a Dataplane) last arrived from global.
    pub fn arrived(&self, kind: &str, name: &str) -> Option<Instant> {
        self.inbox()
            .arrivals
            .get(&format!("{kind}/{name}"))
            .copied()
    }

    async fn send(&self, message: Message) -> Result<(), String> {
        self.outbound
            .send(ZoneMessage {
                message: Some(message),
            })
            .await
            .map_err(|_| format!("zone {}: global closed the stream", self.name))
    }
}
