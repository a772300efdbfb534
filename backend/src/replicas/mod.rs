//! Several weft-global replicas on one Postgres. Every replica serves the API and zone
//! streams; each beats a heartbeat into the store and keeps the zones it holds online; one of
//! them, elected through a lease row with a fencing term, runs the singleton work
//! (`duties.rs`); what zones report to the replica holding their stream, and the telemetry it
//! receives, is shared through the store so every replica serves one picture (`mirror.rs`).

mod duties;
mod leader;
mod mirror;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::store::Store;

pub use duties::{Duties, DutySettings};
pub use leader::{LEASE, Leadership};
pub use mirror::{Mirror, ZoneBoard};

/// How often a replica beats, renews or seeks the lease, and shares what it holds.
pub const BEAT: Duration = Duration::from_secs(2);
/// A replica silent this long is gone: the leader takes its zones offline.
pub const STALE_MILLIS: i64 = 10_000;

/// The zone streams this replica holds: zone → the newest stream's generation (only the newest
/// stream may mark its zone offline).
#[derive(Clone, Default)]
pub struct HeldZones {
    streams: Arc<Mutex<HashMap<String, u64>>>,
    generations: Arc<AtomicU64>,
}

impl HeldZones {
    fn streams(&self) -> std::sync::MutexGuard<'_, HashMap<String, u64>> {
        self.streams
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// A new stream of `zone`: returns its generation.
    pub fn connected(&self, zone: &str) -> u64 {
        let generation = self.generations.fetch_add(1, Ordering::SeqCst) + 1;
        self.streams().insert(zone.to_string(), generation);
        generation
    }

    /// The stream `generation` of `zone` ended: whether it was the newest (the zone is gone).
    pub fn disconnected(&self, zone: &str, generation: u64) -> bool {
        let mut streams = self.streams();
        let newest = streams.get(zone) == Some(&generation);
        if newest {
            streams.remove(zone);
        }
        newest
    }

    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.streams().keys().cloned().collect();
        names.sort();
        names
    }

    pub fn holds(&self, zone: &str) -> bool {
        self.streams().contains_key(zone)
    }
}

/// A timer for the replicas' periodic work: a late tick delays the next rather than bunching up.
fn ticks(period: Duration) -> tokio::time::Interval {
    let mut tick = tokio::time::interval(period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick
}

/// This process among the replicas.
#[derive(Clone)]
pub struct Replica {
    pub id: String,
    pub started_at: i64,
    pub held: HeldZones,
}

impl Replica {
    pub fn new() -> Replica {
        Replica {
            id: uuid::Uuid::new_v4().to_string(),
            started_at: crate::store::now_millis(),
            held: HeldZones::default(),
        }
    }

    /// Beats until shutdown, then says goodbye: its zones go offline at once rather than when
    /// the leader notices the silence.
    pub async fn beat(self, store: Store, mut shutdown: watch::Receiver<bool>) {
        let mut tick = ticks(BEAT);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = weft_runtime::stopped(&mut shutdown) => break,
            }
            if let Err(error) = store
                .replica_heartbeat(&self.id, self.started_at, &self.held.names())
                .await
            {
                tracing::warn!(%error, "replica heartbeat failed; the store may be unreachable");
            }
        }
        if let Err(error) = store.replica_stopped(&self.id).await {
            tracing::warn!(%error, "could not record this replica's stop");
        }
    }
}

impl Default for Replica {
    fn default() -> Self {
        Self::new()
    }
}
