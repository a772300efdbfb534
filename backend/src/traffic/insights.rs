//! What zones report of their proxies' sessions (connected, config versions, rejection,
//! certificate expiry), kept in memory per zone: a zone sends all of them after each connect,
//! so nothing needs storing, and what a zone no longer connected said is forgotten.
//!
//! A zone speaks only for itself: readers take an insight only from the zone that registered
//! the dataplane (its `weft.dev/zone` label).

use std::collections::HashMap;
use std::sync::Mutex;

use serde::Serialize;
use weft_api::proto::DataplaneInsights;
use weft_model::name::name_problem;

/// Most dataplanes one zone may report.
const MAX_PER_ZONE: usize = 100_000;
/// Longest rejection reason kept.
const MAX_REJECTION: usize = 1024;

/// One proxy's session as its zone last reported it.
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Insight {
    pub connected: bool,
    pub config_version: u64,
    pub acked_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection: Option<String>,
    /// RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_expires: Option<String>,
}

/// (mesh, dataplane) → insight.
type Sessions = HashMap<(String, String), Insight>;

#[derive(Default)]
pub struct InsightBoard {
    zones: Mutex<HashMap<String, Sessions>>,
}

impl InsightBoard {
    fn zones(&self) -> std::sync::MutexGuard<'_, HashMap<String, Sessions>> {
        self.zones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Applies one message of `zone`; returns how many entries it ignored.
    pub fn apply(&self, zone: &str, message: DataplaneInsights) -> usize {
        let mut zones = self.zones();
        let sessions = zones.entry(zone.to_string()).or_default();
        if message.full {
            sessions.clear();
        }
        let mut ignored = 0;
        for reported in message.insights {
            if name_problem(&reported.mesh).is_some() || name_problem(&reported.name).is_some() {
                ignored += 1;
                continue;
            }
            let key = (reported.mesh, reported.name);
            if reported.removed {
                sessions.remove(&key);
                continue;
            }
            if sessions.len() >= MAX_PER_ZONE && !sessions.contains_key(&key) {
                ignored += 1;
                continue;
            }
            let rejection = (!reported.rejection.is_empty())
                .then(|| reported.rejection.chars().take(MAX_REJECTION).collect());
            let certificate_expires = (reported.certificate_expires > 0)
                .then(|| jiff::Timestamp::from_second(reported.certificate_expires).ok())
                .flatten()
                .map(|at| at.to_string());
            sessions.insert(
                key,
                Insight {
                    connected: reported.connected,
                    config_version: reported.config_version,
                    acked_version: reported.acked_version,
                    rejection,
                    certificate_expires,
                },
            );
        }
        ignored
    }

    /// Forgets what `zone` said (it disconnected: global no longer knows).
    pub fn forget(&self, zone: &str) {
        self.zones().remove(zone);
    }

    /// What `zone` says of dataplane `name` in `mesh`.
    pub fn of(&self, zone: &str, mesh: &str, name: &str) -> Option<Insight> {
        self.zones()
            .get(zone)?
            .get(&(mesh.to_string(), name.to_string()))
            .cloned()
    }
}

impl crate::replicas::ZoneBoard for InsightBoard {
    fn kind(&self) -> &'static str {
        "sessions"
    }

    fn export(&self, zone: &str) -> Option<serde_json::Value> {
        let zones = self.zones();
        let mut entries: Vec<(&String, &String, &Insight)> = zones
            .get(zone)?
            .iter()
            .map(|((mesh, name), insight)| (mesh, name, insight))
            .collect();
        entries.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        Some(serde_json::json!(entries))
    }

    fn import(&self, zone: &str, value: serde_json::Value) -> Result<(), serde_json::Error> {
        let entries: Vec<(String, String, Insight)> = serde_json::from_value(value)?;
        let sessions: Sessions = entries
            .into_iter()
            .take(MAX_PER_ZONE)
            .map(|(mesh, name, insight)| ((mesh, name), insight))
            .collect();
        self.zones().insert(zone.to_string(), sessions);
        Ok(())
    }

    fn forget(&self, zone: &str) {
        InsightBoard::forget(self, zone);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use weft_api::proto::DataplaneInsight;

    fn reported(name: &str, removed: bool) -> DataplaneInsight {
        DataplaneInsight {
            mesh: "shop".into(),
            name: name.into(),
            connected: true,
            config_version: 3,
            acked_version: 2,
            rejection: "x".repeat(5_000),
            certificate_expires: 1_800_000_000,
            removed,
        }
    }

    #[test]
    fn a_zone_speaks_for_its_own_dataplanes_and_full_replaces() {
        let board = InsightBoard::default();
        let ignored = board.apply(
            "east",
            DataplaneInsights {
                full: true,
                insights: vec![reported("web-1", false), reported("../etc", false)],
            },
        );
        assert_eq!(ignored, 1);
        let insight = board.of("east", "shop", "web-1").unwrap();
        assert_eq!(insight.rejection.unwrap().len(), MAX_REJECTION);
        assert_eq!(
            insight.certificate_expires.as_deref(),
            Some("2027-01-15T08:00:00Z")
        );
        // Another zone's word about it does not count.
        assert!(board.of("west", "shop", "web-1").is_none());
        board.apply(
            "east",
            DataplaneInsights {
                full: false,
                insights: vec![reported("web-1", true)],
            },
        );
        assert!(board.of("east", "shop", "web-1").is_none());
        board.apply(
            "east",
            DataplaneInsights {
                full: false,
                insights: vec![reported("web-2", false)],
            },
        );
        // Another replica imports what this one exports.
        use crate::replicas::ZoneBoard;
        let other = InsightBoard::default();
        other.import("east", board.export("east").unwrap()).unwrap();
        assert_eq!(
            other.of("east", "shop", "web-2"),
            board.of("east", "shop", "web-2")
        );
        assert!(other.export("west").is_none());
        board.forget("east");
        assert!(board.of("east", "shop", "web-2").is_none());
    }
}
