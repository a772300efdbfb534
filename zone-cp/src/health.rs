//! Endpoint health from the proxies' active checks: each proxy reports what it sees of the
//! endpoints it calls; an endpoint is unhealthy when most of the proxies checking it say so.
//! The zone sends the result to global, which shows it with the services.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use tokio::sync::watch;
use weft_api::proto::{EndpointHealth, MeshEndpointHealth};
use weft_model::name::name_problem;

/// Most endpoints one proxy may report on.
pub const MAX_REPORTED: usize = 4096;

/// (mesh, reporting dataplane) → (checked dataplane, port) → healthy.
type Reports = HashMap<(String, String), BTreeMap<(String, u32), bool>>;

pub struct HealthReports {
    reports: Mutex<Reports>,
    changes: watch::Sender<u64>,
}

impl Default for HealthReports {
    fn default() -> Self {
        HealthReports {
            reports: Mutex::default(),
            changes: watch::channel(0).0,
        }
    }
}

impl HealthReports {
    fn lock(&self) -> std::sync::MutexGuard<'_, Reports> {
        self.reports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces what `reporter` (of `mesh`) said before. Entries naming no valid dataplane or
    /// port are ignored, and at most [`MAX_REPORTED`] are kept.
    pub fn report(&self, mesh: &str, reporter: &str, endpoints: &[EndpointHealth]) {
        let seen: BTreeMap<(String, u32), bool> = endpoints
            .iter()
            .filter(|e| name_problem(&e.dataplane).is_none() && (1..=65535).contains(&e.port))
            .take(MAX_REPORTED)
            .map(|e| ((e.dataplane.clone(), e.port), e.healthy))
            .collect();
        let key = (mesh.to_string(), reporter.to_string());
        let mut reports = self.lock();
        let changed = if seen.is_empty() {
            reports.remove(&key).is_some()
        } else {
            reports.insert(key, seen.clone()).as_ref() != Some(&seen)
        };
        drop(reports);
        if changed {
            self.changes.send_modify(|tick| *tick += 1);
        }
    }

    /// A proxy went away: its reports go with it.
    pub fn forget(&self, mesh: &str, reporter: &str) {
        self.report(mesh, reporter, &[]);
    }

    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    /// Every checked endpoint with the majority verdict, sorted.
    pub fn aggregate(&self) -> Vec<MeshEndpointHealth> {
        let mut votes: BTreeMap<(String, String, u32), (u32, u32)> = BTreeMap::new();
        for ((mesh, _), seen) in self.lock().iter() {
            for ((dataplane, port), healthy) in seen {
                let entry = votes
                    .entry((mesh.clone(), dataplane.clone(), *port))
                    .or_default();
                entry.0 += 1;
                if !healthy {
                    entry.1 += 1;
                }
            }
        }
        votes
            .into_iter()
            .map(
                |((mesh, dataplane, port), (reporters, unhealthy))| MeshEndpointHealth {
                    mesh,
                    dataplane,
                    port,
                    healthy: unhealthy * 2 <= reporters,
                    reporters,
                },
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(dataplane: &str, healthy: bool) -> EndpointHealth {
        EndpointHealth {
            dataplane: dataplane.into(),
            port: 8080,
            healthy,
        }
    }

    #[test]
    fn the_majority_of_reporters_decides_and_leavers_are_forgotten() {
        let health = HealthReports::default();
        let changes = health.subscribe();
        health.report(
            "shop",
            "web-1",
            &[seen("catalog-1", false), seen("BAD NAME", false)],
        );
        health.report("shop", "web-2", &[seen("catalog-1", true)]);
        let all = health.aggregate();
        assert_eq!(all.len(), 1, "invalid names are dropped");
        assert!(all[0].healthy, "one of two is not a majority");
        assert_eq!(all[0].reporters, 2);
        health.report("shop", "web-3", &[seen("catalog-1", false)]);
        assert!(!health.aggregate()[0].healthy);
        assert!(changes.has_changed().unwrap());
        health.forget("shop", "web-1");
        health.forget("shop", "web-3");
        assert!(health.aggregate()[0].healthy);
    }
}
