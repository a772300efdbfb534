//! Global → zone: snapshot or resume, then follow the change feed.

use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tonic::Status;
use weft_api::proto::{
    BatchKind, GlobalMessage, Resource as WireResource, ResourceBatch, global_message,
};
use weft_model::Kind;

use crate::store::{Store, StoredResource};

/// Changes read from the store per batch.
const BATCH_SIZE: u32 = weft_api::sync::BATCH_SIZE as u32;
/// Fallback poll for writes made by other replicas sharing the same Postgres.
const POLL_INTERVAL: Duration = Duration::from_secs(2);

type Sender = mpsc::Sender<Result<GlobalMessage, Status>>;

/// A zone receives meshes and everything in them except its own dataplanes, of which it is
/// the source; tenants and zones concern global only.
fn relevant(row: &StoredResource, zone: &str) -> bool {
    match row.kind {
        Kind::Tenant | Kind::Zone => false,
        Kind::Dataplane => row.zone != zone,
        _ => true,
    }
}

fn to_wire(row: &StoredResource) -> WireResource {
    WireResource {
        kind: row.kind.name().to_string(),
        mesh: row.mesh.clone(),
        name: row.name.clone(),
        revision: row.revision,
        deleted: row.deleted,
        manifest_json: if row.deleted {
            String::new()
        } else {
            serde_json::to_string(&row.to_manifest()).unwrap_or_default()
        },
        zone: row.zone.clone(),
    }
}

async fn send_batch(sender: &Sender, batch: ResourceBatch) -> bool {
    let message = GlobalMessage {
        message: Some(global_message::Message::Resources(batch)),
    };
    sender.send(Ok(message)).await.is_ok()
}

/// Sends every live resource for `zone`; the revision it is at and how many were sent, or
/// `None` when the stream is gone.
async fn snapshot(
    store: &Store,
    zone: &str,
    sender: &Sender,
) -> Result<Option<(u64, usize)>, crate::error::Error> {
    // Read the revision first: rows changed after it are sent again by the feed, which is harmless.
    let revision = store.current_revision().await?;
    let rows: Vec<WireResource> = store
        .live()
        .await?
        .iter()
        .filter(|row| relevant(row, zone))
        .map(to_wire)
        .collect();
    let count = rows.len();
    for batch in weft_api::sync::snapshot_batches(rows, revision) {
        if !send_batch(sender, batch).await {
            return Ok(None);
        }
    }
    Ok(Some((revision, count)))
}

/// One zone's feed.
pub struct Feed {
    pub store: Store,
    pub zone: String,
    pub metrics: std::sync::Arc<crate::metrics::Metrics>,
}

impl Feed {
    fn count(&self, mode: &'static str, resources: usize) {
        self.metrics
            .resources_sent
            .get_or_create(&crate::metrics::SentLabels {
                zone: self.zone.clone(),
                mode,
            })
            .inc_by(resources as u64);
    }

    /// Sends a snapshot; the revision it is at, or `None` when the stream is gone.
    async fn snapshot(&self, sender: &Sender) -> Option<u64> {
        match snapshot(&self.store, &self.zone, sender).await {
            Ok(Some((revision, resources))) => {
                self.count("snapshot", resources);
                tracing::info!(zone = %self.zone, revision, resources, "snapshot sent to zone");
                Some(revision)
            }
            Ok(None) => None,
            Err(error) => {
                tracing::warn!(zone = %self.zone, %error, "snapshot failed; closing the stream so the zone retries");
                let _ = sender
                    .send(Err(Status::unavailable("global store unavailable")))
                    .await;
                None
            }
        }
    }
}

/// Whether tombstones after `revision` may be gone (the zone needs a snapshot).
async fn behind_compaction(store: &Store, revision: u64) -> Result<bool, crate::error::Error> {
    Ok(store.compacted_revision().await? > revision)
}

pub async fn send_changes(
    feed: Feed,
    resume: Option<u64>,
    sender: Sender,
    mut shutdown: watch::Receiver<bool>,
) {
    let Feed { store, zone, .. } = &feed;
    let mut changes = store.subscribe();
    let resume = match resume {
        Some(revision) => match behind_compaction(store, revision).await {
            Ok(false) => Some(revision),
            Ok(true) => {
                tracing::info!(zone = %zone, revision, "the zone resumes from before the compaction point");
                None
            }
            Err(error) => {
                tracing::warn!(zone = %zone, %error, "store unreachable; closing the stream so the zone retries");
                let _ = sender
                    .send(Err(Status::unavailable("global store unavailable")))
                    .await;
                return;
            }
        },
        None => None,
    };
    let mut sent = match resume {
        Some(revision) => revision,
        None => match feed.snapshot(&sender).await {
            Some(revision) => revision,
            None => return,
        },
    };
    let mut poll = tokio::time::interval(POLL_INTERVAL);
    loop {
        let read = store.changes_since(sent, BATCH_SIZE).await;
        // Compaction may overtake a zone still catching up. Asked after the read: rows read
        // before the compaction committed are complete, and one read after it sees its point.
        match behind_compaction(store, sent).await {
            Ok(false) => {}
            Ok(true) => {
                sent = match feed.snapshot(&sender).await {
                    Some(revision) => revision,
                    None => return,
                };
                continue;
            }
            Err(error) => {
                tracing::warn!(zone = %zone, %error, "reading the compaction point failed; will retry");
                tokio::time::sleep(POLL_INTERVAL).await;
                continue;
            }
        }
        match read {
            Ok(rows) if !rows.is_empty() => {
                let full = rows.len() == BATCH_SIZE as usize;
                let last = rows.last().map_or(sent, |row| row.revision);
                let resources: Vec<WireResource> = rows
                    .iter()
                    .filter(|row| relevant(row, zone))
                    .map(to_wire)
                    .collect();
                feed.count("incremental", resources.len());
                let batch = ResourceBatch {
                    kind: BatchKind::Incremental as i32,
                    resources,
                    revision: last,
                };
                if !send_batch(&sender, batch).await {
                    return;
                }
                sent = last;
                if full {
                    continue;
                }
            }
            Ok(_) => {}
            Err(error) => {
                tracing::warn!(zone = %zone, %error, "reading the change feed failed; will retry");
            }
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = poll.tick() => {}
            _ = sender.closed() => return,
            _ = shutdown.changed() => {
                if *shutdown.borrow() {
                    let _ = sender.send(Err(Status::unavailable("global is shutting down"))).await;
                    return;
                }
            }
        }
    }
}

/// Sends the zone global's public keys and the revoked token ids after the hello, then again
/// whenever they change (revocations through this replica wake it at once; those made
/// through another replica are found by a periodic look).
pub async fn send_credentials(
    store: Store,
    authority: std::sync::Arc<crate::auth::Authority>,
    sender: Sender,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = store.subscribe_credentials();
    let mut last: Option<Vec<String>> = None;
    loop {
        match store.revoked_token_ids().await {
            Ok(revoked) if last.as_ref() != Some(&revoked) => {
                let message = GlobalMessage {
                    message: Some(global_message::Message::Credentials(
                        weft_api::proto::Credentials {
                            keys: authority
                                .public_keys()
                                .iter()
                                .map(|key| weft_api::proto::TrustedKey {
                                    kid: key.kid.clone(),
                                    public_key_pem: key.public_key_pem.clone(),
                                })
                                .collect(),
                            revoked_tokens: revoked.clone(),
                        },
                    )),
                };
                if sender.send(Ok(message)).await.is_err() {
                    return;
                }
                last = Some(revoked);
            }
            Ok(_) => {}
            Err(error) => tracing::warn!(%error, "reading revoked tokens failed"),
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(POLL_INTERVAL * 5) => {}
            _ = weft_runtime::stopped(&mut shutdown) => return,
            _ = sender.closed() => return,
        }
    }
}

/// Every mesh's trust (roots and signing root), after the hello and whenever one changes; also
/// every few seconds, for rotations moved on by another replica sharing the store.
pub async fn send_trust(
    cas: std::sync::Arc<crate::ca::MeshCas>,
    sender: Sender,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = cas.subscribe();
    let mut sent: std::collections::HashMap<String, crate::ca::Trust> = Default::default();
    loop {
        match cas.all_trust().await {
            Ok(all) => {
                for trust in all {
                    if sent.get(&trust.mesh) == Some(&trust) {
                        continue;
                    }
                    let message = GlobalMessage {
                        message: Some(global_message::Message::MeshTrust(
                            weft_api::proto::MeshTrust {
                                mesh: trust.mesh.clone(),
                                generation: trust.generation,
                                trust_bundle_pem: trust.bundle_pem.clone(),
                                signing_fingerprint: trust.signing_fingerprint.clone(),
                                phase: trust.phase.as_str().to_string(),
                            },
                        )),
                    };
                    if sender.send(Ok(message)).await.is_err() {
                        return;
                    }
                    sent.insert(trust.mesh.clone(), trust);
                }
            }
            Err(error) => tracing::warn!(%error, "reading the meshes' trust failed"),
        }
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = tokio::time::sleep(POLL_INTERVAL) => {}
            _ = weft_runtime::stopped(&mut shutdown) => return,
            _ = sender.closed() => return,
        }
    }
}
