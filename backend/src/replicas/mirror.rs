//! What the replica holding a zone's stream learns from it, shared with the other replicas
//! through the store once a second: the zone's reports (endpoint health, proxy sessions, CA
//! rotation progress) as one JSON document per kind, and the telemetry it received as one row
//! per mesh and finished second. Every replica imports what the others wrote, so the graph,
//! the rollout gates and the dataplanes' status are the same whichever replica answers.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use weft_api::telemetry::{EdgeCounters, EdgeKey};

use super::Replica;
use super::ticks;
use crate::store::{Store, TrafficSecond, now_millis};
use crate::traffic::TrafficWindow;

/// How often reports and telemetry are shared.
const SHARE: Duration = Duration::from_secs(1);
/// Telemetry seconds looked for behind now (a replica's write lands within a second or two).
const IMPORT_SECONDS: u64 = 10;

/// One kind of zone report kept in memory, shareable as JSON.
pub trait ZoneBoard: Send + Sync {
    /// The kind's name in the store.
    fn kind(&self) -> &'static str;
    /// Everything `zone` reported, or `None` when it reported nothing.
    fn export(&self, zone: &str) -> Option<serde_json::Value>;
    /// Replaces what `zone` reported with what another replica received.
    fn import(&self, zone: &str, value: serde_json::Value) -> Result<(), serde_json::Error>;
    fn forget(&self, zone: &str);
}

pub struct Mirror {
    pub store: Store,
    pub replica: Replica,
    pub traffic: Arc<TrafficWindow>,
    pub cas: Arc<crate::ca::MeshCas>,
}

#[derive(Default)]
struct Shared {
    /// (zone, kind) → the payload last written.
    written: HashMap<(String, String), String>,
    /// (zone, kind) → the version last imported.
    imported: HashMap<(String, String), u64>,
    /// Telemetry seconds already imported: (replica, mesh, second).
    seconds: HashSet<(String, String, u64)>,
}

impl Mirror {
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let mut tick = ticks(SHARE);
        let mut shared = Shared::default();
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = weft_runtime::stopped(&mut shutdown) => return,
            }
            if let Err(error) = self.share(&mut shared).await {
                tracing::warn!(%error, "sharing zone reports and telemetry failed; trying again");
            }
        }
    }

    /// Every kind of zone report.
    fn boards(&self) -> [&dyn ZoneBoard; 3] {
        [&self.traffic.health, &self.traffic.insights, &*self.cas]
    }

    async fn share(&self, shared: &mut Shared) -> crate::error::Result<()> {
        let held = self.replica.held.names();
        let boards: HashMap<&str, &dyn ZoneBoard> = self
            .boards()
            .into_iter()
            .map(|board| (board.kind(), board))
            .collect();
        // What this replica's zones said.
        for zone in &held {
            for board in self.boards() {
                let Some(value) = board.export(zone) else {
                    continue;
                };
                let text = value.to_string();
                let key = (zone.clone(), board.kind().to_string());
                if shared.written.get(&key) != Some(&text) {
                    self.store
                        .put_zone_report(zone, board.kind(), &self.replica.id, &text)
                        .await?;
                    shared.written.insert(key, text);
                }
            }
        }
        shared.written.retain(|(zone, _), _| held.contains(zone));
        // What the others' zones said.
        let versions = self.store.zone_report_versions(&self.replica.id).await?;
        let mut present = HashSet::new();
        for (zone, kind, version) in versions {
            if self.replica.held.holds(&zone) {
                continue;
            }
            let key = (zone.clone(), kind.clone());
            present.insert(key.clone());
            if shared.imported.get(&key) == Some(&version) {
                continue;
            }
            let (Some(board), Some((version, payload))) = (
                boards.get(kind.as_str()),
                self.store.zone_report(&zone, &kind).await?,
            ) else {
                continue;
            };
            let imported =
                serde_json::from_str(&payload).and_then(|value| board.import(&zone, value));
            if let Err(error) = imported {
                tracing::warn!(zone, kind, %error, "a shared zone report does not read; ignored");
            }
            shared.imported.insert(key, version);
        }
        shared.imported.retain(|key, _| {
            let keep = present.contains(key);
            if !keep
                && !self.replica.held.holds(&key.0)
                && let Some(board) = boards.get(key.1.as_str())
            {
                board.forget(&key.0);
            }
            keep
        });
        self.share_traffic(shared).await
    }

    async fn share_traffic(&self, shared: &mut Shared) -> crate::error::Result<()> {
        let now = u64::try_from(now_millis() / 1000).unwrap_or(0);
        for (mesh, second, edges) in self.traffic.take_finished(now) {
            let edges: Vec<(EdgeKey, EdgeCounters)> = edges.into_iter().collect();
            let row = TrafficSecond {
                replica: self.replica.id.clone(),
                mesh,
                second,
                edges: serde_json::to_string(&edges)
                    .map_err(|error| crate::error::Error::Internal(error.to_string()))?,
            };
            self.store.put_traffic_second(&row).await?;
        }
        let since = now.saturating_sub(IMPORT_SECONDS);
        for row in self
            .store
            .traffic_seconds_since(&self.replica.id, since)
            .await?
        {
            let key = (row.replica, row.mesh, row.second);
            if shared.seconds.contains(&key) {
                continue;
            }
            match serde_json::from_str::<Vec<(EdgeKey, EdgeCounters)>>(&row.edges) {
                Ok(edges) => self.traffic.record_shared(&key.1, key.2, edges),
                Err(error) => tracing::warn!(%error, "shared telemetry does not read; ignored"),
            }
            shared.seconds.insert(key);
        }
        shared.seconds.retain(|(_, _, second)| *second >= since);
        Ok(())
    }
}
