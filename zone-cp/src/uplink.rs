//! The zone's stream to global: it dials, resumes from the revisions both sides recorded,
//! applies what global sends, sends its own dataplanes and forwards telemetry. It reconnects
//! with backoff for as long as the zone runs; the zone keeps serving proxies meanwhile.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use weft_api::proto::zone_sync_client::ZoneSyncClient;
use weft_api::proto::{
    BatchKind, GlobalMessage, HealthBatch, Resource as WireResource, ResourceBatch, TelemetryBatch,
    ZoneHello, ZoneMessage, global_message, zone_message,
};
use weft_model::Kind;
use weft_model::resource::{Author, Resource};
use weft_runtime::grpc::Backoff;

use crate::health::HealthReports;
use crate::metrics::Metrics;
use crate::state::{GlobalChange, ZoneState};
use crate::store::{GlobalResource, ZoneStore};

use weft_api::sync::{Assembler, BATCH_SIZE, MAX_MESSAGE_BYTES, Received};

/// How often the summed telemetry goes to global.
const TELEMETRY_FLUSH: std::time::Duration = std::time::Duration::from_millis(500);

pub struct Uplink {
    pub zone: String,
    /// Global's sync port, one per replica: TLS, this zone's token. The zone dials `current`
    /// and moves to the next after a session ends.
    pub globals: Vec<weft_runtime::grpc::ControlClient>,
    pub current: usize,
    pub store: ZoneStore,
    pub state: Arc<ZoneState>,
    /// Ticks when a local dataplane changed.
    pub local_changes: watch::Receiver<u64>,
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    pub connected: Arc<AtomicBool>,
    pub metrics: Arc<Metrics>,
    pub health: Arc<HealthReports>,
    /// Where global's token keys go.
    pub credentials: Arc<crate::credentials::Credentials>,
    /// The zone's intermediate CAs, requested from global.
    pub cas: Arc<crate::cas::ZoneCas>,
    /// The proxies' sessions, reported to global.
    pub sessions: crate::dataplanes::Sessions,
}

impl Uplink {
    pub async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(5));
        loop {
            let result = tokio::select! {
                result = self.session() => result,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            self.connected.store(false, Ordering::SeqCst);
            self.metrics.global_connected.set(0);
            let address = self.global().address.clone();
            // The next replica, if there are several: this one may be going away.
            self.current = (self.current + 1) % self.globals.len().max(1);
            match result {
                Ok(()) => {
                    tracing::info!(zone = %self.zone, "global closed the sync stream; reconnecting");
                    backoff.reset();
                }
                Err(error) => {
                    tracing::warn!(zone = %self.zone, global = %address, %error, "global unreachable; retrying")
                }
            }
            tokio::select! {
                _ = tokio::time::sleep(backoff.next_delay()) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
        }
    }

    fn global(&self) -> &weft_runtime::grpc::ControlClient {
        &self.globals[self.current % self.globals.len()]
    }

    async fn session(&mut self) -> Result<(), String> {
        let channel = self.global().connect().await?;
        let mut client = ZoneSyncClient::new(channel)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let (sender, receiver) = mpsc::channel::<ZoneMessage>(16);
        let (global_store_id, global_revision) = self
            .store
            .global_position()
            .await
            .map_err(|e| e.to_string())?;
        let hello = ZoneHello {
            zone: self.zone.clone(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            zone_store_id: self.store.store_id().to_string(),
            global_store_id,
            global_revision,
        };
        sender
            .send(ZoneMessage {
                message: Some(zone_message::Message::Hello(hello)),
            })
            .await
            .map_err(|_| "stream closed before hello".to_string())?;
        let request = self.global().request(ReceiverStream::new(receiver));
        let mut inbound = client
            .sync(request)
            .await
            .map_err(|status| format!("sync refused: {}", status.message()))?
            .into_inner();
        let greeting = inbound
            .message()
            .await
            .map_err(|status| status.message().to_string())?;
        let Some(GlobalMessage {
            message: Some(global_message::Message::Hello(greeting)),
        }) = greeting
        else {
            return Err("global did not answer with GlobalHello".into());
        };
        self.connected.store(true, Ordering::SeqCst);
        self.metrics.global_connected.set(1);
        tracing::info!(zone = %self.zone, global_zone_revision = greeting.zone_revision, "connected to global");

        let global_store_id = greeting.global_store_id;
        let store = self.store.clone();
        let state = self.state.clone();
        let credentials = self.credentials.clone();
        let cas = self.cas.clone();
        let receive = async move {
            let mut snapshot = Assembler::default();
            loop {
                let message = inbound
                    .message()
                    .await
                    .map_err(|status| status.message().to_string())?;
                let Some(message) = message else {
                    return Ok::<(), String>(());
                };
                match message.message {
                    Some(global_message::Message::Resources(batch)) => {
                        let received = snapshot.push(batch).map_err(|error| error.to_string())?;
                        apply_batch(&store, &state, &global_store_id, received).await?;
                    }
                    Some(global_message::Message::CaIssued(issued)) => {
                        if issued.error.is_empty() {
                            if let Err(error) = cas
                                .issued(
                                    &issued.mesh,
                                    issued.certificate_pem,
                                    issued.trust_bundle_pem,
                                    issued.signing_fingerprint,
                                )
                                .await
                            {
                                tracing::warn!(mesh = %issued.mesh, %error, "intermediate CA not installed");
                            }
                        } else {
                            tracing::warn!(mesh = %issued.mesh, error = %issued.error, "global refused the CA request");
                        }
                    }
                    Some(global_message::Message::MeshTrust(trust)) => {
                        let mesh = trust.mesh.clone();
                        let trust = crate::cas::MeshTrust {
                            generation: trust.generation,
                            bundle_pem: trust.trust_bundle_pem,
                            signing_fingerprint: trust.signing_fingerprint,
                            phase: trust.phase,
                        };
                        cas.set_trust(&mesh, trust)
                            .await
                            .map_err(|error| error.to_string())?;
                    }
                    Some(global_message::Message::Credentials(received)) => {
                        let keys = received
                            .keys
                            .into_iter()
                            .map(|key| weft_identity::TrustedKey {
                                kid: key.kid,
                                public_key_pem: key.public_key_pem,
                            })
                            .collect();
                        credentials
                            .update(&store, keys, received.revoked_tokens)
                            .await
                            .map_err(|error| error.to_string())?;
                    }
                    _ => {}
                }
            }
        };
        let ca_requests = request_cas(
            self.state.clone(),
            self.cas.clone(),
            self.zone.clone(),
            sender.clone(),
        );
        let ca_progress = report_progress(self.cas.clone(), sender.clone());
        let insights = crate::insights::report(self.sessions.clone(), sender.clone());
        let send = send_local(
            &self.store,
            &mut self.local_changes,
            &self.telemetry,
            &self.metrics,
            &self.health,
            sender,
            greeting.zone_revision,
        );
        tokio::select! {
            result = receive => result,
            result = send => result,
            result = ca_requests => result,
            result = ca_progress => result,
            result = insights => result,
        }
    }
}

/// Asks global for an intermediate CA for every mesh the zone serves that has none or must
/// renew it; looks again every few seconds and whenever meshes change.
async fn request_cas(
    state: Arc<ZoneState>,
    cas: Arc<crate::cas::ZoneCas>,
    zone: String,
    sender: mpsc::Sender<ZoneMessage>,
) -> Result<(), String> {
    let mut changes = state.subscribe();
    let mut trust_changes = cas.subscribe_trust();
    loop {
        let meshes: Vec<String> = state
            .current()
            .meshes
            .iter()
            .filter(|(_, mesh)| mesh.exists())
            .map(|(name, _)| name.clone())
            .collect();
        for (mesh, csr_pem) in cas.requests(&meshes, &zone) {
            let message = ZoneMessage {
                message: Some(zone_message::Message::CaRequest(
                    weft_api::proto::CaRequest { mesh, csr_pem },
                )),
            };
            sender
                .send(message)
                .await
                .map_err(|_| "sync stream closed".to_string())?;
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = trust_changes.changed() => {}
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
        }
    }
}

/// Tells global how far this zone's proxies are with each mesh's trust generation: on
/// connect and whenever it changes.
async fn report_progress(
    cas: Arc<crate::cas::ZoneCas>,
    sender: mpsc::Sender<ZoneMessage>,
) -> Result<(), String> {
    let mut changes = cas.subscribe_progress();
    let mut sent: std::collections::BTreeMap<String, crate::cas::Progress> = Default::default();
    loop {
        for (mesh, progress) in cas.progress() {
            if sent.get(&mesh) == Some(&progress) {
                continue;
            }
            let message = ZoneMessage {
                message: Some(zone_message::Message::CaProgress(
                    weft_api::proto::CaProgress {
                        mesh: mesh.clone(),
                        generation: progress.generation,
                        proxies: progress.proxies,
                        current: progress.current,
                        intermediate_current: progress.intermediate_current,
                    },
                )),
            };
            sender
                .send(message)
                .await
                .map_err(|_| "sync stream closed".to_string())?;
            sent.insert(mesh, progress);
        }
        if changes.changed().await.is_err() {
            return Ok(());
        }
    }
}

/// Sends this zone's dataplanes (a snapshot when global knows nothing of this zone's store,
/// otherwise the changes after `after`), then follows local changes and forwards telemetry.
async fn send_local(
    store: &ZoneStore,
    local_changes: &mut watch::Receiver<u64>,
    telemetry: &crate::telemetry::Telemetry,
    metrics: &Metrics,
    health: &HealthReports,
    sender: mpsc::Sender<ZoneMessage>,
    after: u64,
) -> Result<(), String> {
    // Telemetry counted while global was away is not replayed as one burst: global's window
    // has moved on. It is dropped (and counted) when the stream starts.
    let (_, stale) = telemetry.take();
    if stale > 0 {
        metrics.telemetry_dropped.inc_by(stale);
    }
    let mut flush = tokio::time::interval(TELEMETRY_FLUSH);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Global gets the whole health picture on every connect and after every change.
    let mut health_changes = health.subscribe();
    health_changes.mark_changed();
    let send = |batch: ResourceBatch| {
        let sender = sender.clone();
        async move {
            sender
                .send(ZoneMessage {
                    message: Some(zone_message::Message::Resources(batch)),
                })
                .await
                .map_err(|_| "sync stream closed".to_string())
        }
    };
    let mut sent = after;
    loop {
        local_changes.borrow_and_update();
        let changes = if sent == 0 {
            Vec::new()
        } else {
            store.local_changes(sent).await.map_err(|e| e.to_string())?
        };
        // Checked after the read: tombstones compacted meanwhile were at or below the
        // compaction point, so a reader at or past it missed nothing.
        let compacted = store.local_compacted().await.map_err(|e| e.to_string())?;
        if sent == 0 || compacted > sent {
            let revision = store.local_revision().await.map_err(|e| e.to_string())?;
            let live: Vec<WireResource> = store
                .local_changes(0)
                .await
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(to_wire)
                .collect();
            for batch in weft_api::sync::snapshot_batches(live, revision) {
                send(batch).await?;
            }
            sent = revision;
        } else {
            for chunk in changes.chunks(BATCH_SIZE) {
                let revision = chunk.last().map_or(sent, |change| change.revision);
                send(ResourceBatch {
                    kind: BatchKind::Incremental as i32,
                    resources: chunk.iter().cloned().map(to_wire).collect(),
                    revision,
                })
                .await?;
                sent = revision;
            }
        }
        tokio::select! {
            changed = local_changes.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
            }
            changed = health_changes.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                health_changes.borrow_and_update();
                let endpoints = health.aggregate();
                sender
                    .send(ZoneMessage { message: Some(zone_message::Message::Health(HealthBatch { endpoints })) })
                    .await
                    .map_err(|_| "sync stream closed".to_string())?;
            }
            _ = flush.tick() => {
                let (reports, count) = telemetry.take();
                if reports.is_empty() {
                    continue;
                }
                metrics.telemetry_forwarded.inc_by(count);
                sender
                    .send(ZoneMessage { message: Some(zone_message::Message::Telemetry(TelemetryBatch { reports })) })
                    .await
                    .map_err(|_| "sync stream closed".to_string())?;
            }
        }
    }
}

fn to_wire(change: crate::store::LocalChange) -> WireResource {
    WireResource {
        kind: Kind::Dataplane.name().to_string(),
        deleted: change.manifest.is_none(),
        manifest_json: change.manifest.unwrap_or_default(),
        mesh: change.mesh,
        name: change.name,
        revision: change.revision,
        zone: String::new(),
    }
}

/// A manifest received from global (now or before a restart); unreadable ones are skipped.
fn parse(kind: &str, name: &str, manifest_json: &str) -> Option<Resource> {
    let value = serde_json::from_str(manifest_json).ok()?;
    match Resource::from_value(value, Author::Zone) {
        Ok(resource) => Some(resource),
        Err(errors) => {
            tracing::warn!(kind, name, %errors, "ignoring a resource from global this zone cannot read");
            None
        }
    }
}

async fn apply_batch(
    store: &ZoneStore,
    state: &ZoneState,
    global_store_id: &str,
    received: Received,
) -> Result<(), String> {
    let (resources, revision, replace) = match received {
        Received::Partial => return Ok(()),
        Received::Snapshot {
            resources,
            revision,
        } => (resources, revision, true),
        Received::Changes {
            resources,
            revision,
        } => (resources, revision, false),
    };
    // Kinds this zone does not know (a newer global) are skipped, not fatal.
    let known: Vec<&WireResource> = resources
        .iter()
        .filter(|wire| Kind::parse(&wire.kind).is_some())
        .collect();
    let rows: Vec<GlobalResource> = known
        .iter()
        .map(|wire| GlobalResource {
            kind: wire.kind.clone(),
            mesh: wire.mesh.clone(),
            name: wire.name.clone(),
            zone: wire.zone.clone(),
            revision: wire.revision,
            manifest: (!wire.deleted).then(|| wire.manifest_json.clone()),
        })
        .collect();
    store
        .apply_global(&rows, replace, global_store_id, revision)
        .await
        .map_err(|error| format!("storing what global sent: {error}"))?;
    if replace {
        let parsed: Vec<Resource> = known
            .iter()
            .filter(|wire| !wire.deleted)
            .filter_map(|wire| parse(&wire.kind, &wire.name, &wire.manifest_json))
            .collect();
        tracing::info!(
            resources = parsed.len(),
            revision,
            "snapshot from global applied"
        );
        state.replace_global(parsed);
    } else {
        let changes: Vec<GlobalChange> = known
            .iter()
            .filter_map(|wire| {
                let kind = Kind::parse(&wire.kind)?;
                if wire.deleted {
                    Some(GlobalChange::Delete {
                        kind,
                        mesh: wire.mesh.clone(),
                        name: wire.name.clone(),
                    })
                } else {
                    parse(&wire.kind, &wire.name, &wire.manifest_json)
                        .map(|resource| GlobalChange::Upsert(Box::new(resource)))
                }
            })
            .collect();
        if !changes.is_empty() {
            tracing::debug!(
                changes = changes.len(),
                revision,
                "changes from global applied"
            );
        }
        state.apply_global(changes);
    }
    Ok(())
}

/// Loads what the store holds into the in-memory state at startup.
pub async fn load_state(store: &ZoneStore, state: &ZoneState) -> crate::error::Result<usize> {
    let received: Vec<Resource> = store
        .global_resources()
        .await?
        .iter()
        .filter_map(|row| {
            parse(
                &row.kind,
                &row.name,
                row.manifest.as_deref().unwrap_or_default(),
            )
        })
        .collect();
    state.replace_global(received);
    let local = store.local_dataplanes().await?;
    let count = local.len();
    for resource in local {
        state.put_local(resource);
    }
    Ok(count)
}
