//! The leader's housekeeping: zones whose replica went silent go offline, shared telemetry
//! older than the graph's reach is dropped, and tombstones older than the retention are
//! compacted (a zone resuming from before that point gets a snapshot). The rollout
//! controller and CA rotations also run on the leader only; they ask `Leadership` themselves.

use std::time::Duration;

use tokio::sync::watch;

use super::ticks;
use super::{BEAT, LEASE, Leadership, STALE_MILLIS};
use crate::store::{Store, now_millis};

/// Shared telemetry kept this long (seconds): replicas import the last few seconds only.
const SHARED_TRAFFIC_SECONDS: u64 = 120;
/// How often tombstones are looked at.
const COMPACTION_INTERVAL: Duration = Duration::from_secs(60);

#[derive(Clone, Copy, Debug)]
pub struct DutySettings {
    /// Tombstones older than this are compacted.
    pub tombstone_retention: Duration,
}

pub struct Duties {
    pub store: Store,
    pub leadership: Leadership,
    pub settings: DutySettings,
}

impl Duties {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = ticks(BEAT);
        let mut compacted_at: Option<tokio::time::Instant> = None;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = weft_runtime::stopped(&mut shutdown) => return,
            }
            let Some(term) = self.leadership.term() else {
                continue;
            };
            match self
                .store
                .orphaned_zones_offline(LEASE, self.leadership.holder(), term, STALE_MILLIS)
                .await
            {
                Ok(zones) if !zones.is_empty() => {
                    tracing::info!(
                        ?zones,
                        "zones offline: the replica holding them went silent"
                    )
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, "zone liveness check failed"),
            }
            let now = u64::try_from(now_millis() / 1000).unwrap_or(0);
            if let Err(error) = self
                .store
                .forget_traffic_before(now.saturating_sub(SHARED_TRAFFIC_SECONDS))
                .await
            {
                tracing::warn!(%error, "dropping old shared telemetry failed");
            }
            if compacted_at.is_none_or(|at| at.elapsed() >= COMPACTION_INTERVAL) {
                compacted_at = Some(tokio::time::Instant::now());
                let retention = i64::try_from(self.settings.tombstone_retention.as_millis())
                    .unwrap_or(i64::MAX);
                match self
                    .store
                    .compact_tombstones(now_millis().saturating_sub(retention))
                    .await
                {
                    Ok(point) => tracing::debug!(point, "tombstones compacted"),
                    Err(error) => tracing::warn!(%error, "tombstone compaction failed"),
                }
            }
        }
    }
}
