//! Endpoint health reported by zones (from their proxies' active checks), kept in memory:
//! zones send their whole picture on every connect and change, so nothing needs storing.

use std::collections::HashMap;
use std::sync::Mutex;

use weft_api::proto::MeshEndpointHealth;
use weft_model::name::name_problem;

/// Most endpoints one zone may report.
const MAX_PER_ZONE: usize = 100_000;

/// (mesh, dataplane, inbound port) → healthy.
type Endpoints = HashMap<(String, String, u16), bool>;

#[derive(Default)]
pub struct HealthBoard {
    /// What each zone reported last.
    zones: Mutex<HashMap<String, Endpoints>>,
}

impl HealthBoard {
    /// Replaces what `zone` reported before.
    pub fn replace(&self, zone: &str, endpoints: &[MeshEndpointHealth]) {
        let reported: Endpoints = endpoints
            .iter()
            .filter(|e| name_problem(&e.mesh).is_none() && name_problem(&e.dataplane).is_none())
            .filter_map(|e| {
                let port = u16::try_from(e.port).ok().filter(|port| *port > 0)?;
                Some(((e.mesh.clone(), e.dataplane.clone(), port), e.healthy))
            })
            .take(MAX_PER_ZONE)
            .collect();
        self.zones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(zone.to_string(), reported);
    }

    /// What checks say of a dataplane's inbound port; `None` when nothing checks it.
    pub fn of(&self, mesh: &str, dataplane: &str, port: u16) -> Option<bool> {
        let zones = self
            .zones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let key = (mesh.to_string(), dataplane.to_string(), port);
        // Several zones may check one endpoint: unhealthy when any majority says so.
        zones
            .values()
            .filter_map(|reported| reported.get(&key).copied())
            .reduce(|a, b| a && b)
    }
}

impl crate::replicas::ZoneBoard for HealthBoard {
    fn kind(&self) -> &'static str {
        "health"
    }

    fn export(&self, zone: &str) -> Option<serde_json::Value> {
        let zones = self
            .zones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut entries: Vec<(&String, &String, u16, bool)> = zones
            .get(zone)?
            .iter()
            .map(|((mesh, dataplane, port), healthy)| (mesh, dataplane, *port, *healthy))
            .collect();
        entries.sort();
        Some(serde_json::json!(entries))
    }

    fn import(&self, zone: &str, value: serde_json::Value) -> Result<(), serde_json::Error> {
        let entries: Vec<(String, String, u16, bool)> = serde_json::from_value(value)?;
        let reported: Endpoints = entries
            .into_iter()
            .take(MAX_PER_ZONE)
            .map(|(mesh, dataplane, port, healthy)| ((mesh, dataplane, port), healthy))
            .collect();
        self.zones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(zone.to_string(), reported);
        Ok(())
    }

    fn forget(&self, zone: &str) {
        self.zones
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .remove(zone);
    }
}
