//! Every connected proxy's configuration, computed by one task for the whole zone.
//!
//! After a change to the zone's state (debounced, so a burst of changes is one round), the task
//! compares each mesh with the state of its previous round, asks every tracked proxy's
//! [`Dependencies`] whether a changed resource concerns it, recomputes only those proxies from
//! one indexed [`MeshView`] per mesh and round, and publishes a new version to a proxy's slot
//! only when its configuration differs. A proxy session just forwards what its slot holds, so a
//! change that concerns 1 % of the proxies costs about 1 % of the work, and an unchanged proxy
//! is never woken.
//!
//! Configurations are computed without their endpoints; each service's endpoints are encoded
//! once per round and spliced into the JSON of every proxy that calls it. The task keeps only
//! each proxy's dependencies and version (the JSON is in its slot), so a connected proxy costs
//! the zone little more than its encoded configuration.
//!
//! Versions count per proxy and survive its reconnects; a reconnecting proxy is sent the
//! current version again.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use weft_model::Spec;
use weft_model::effective::{Dependencies, MeshView, proxy_config_with_dependencies};

use crate::dataplanes::Key;
use crate::metrics::Metrics;
use crate::state::{MeshState, ZoneState};

/// How long a round waits for more changes after the first one.
const SETTLE: Duration = Duration::from_millis(20);

mod diff;
mod encoded;

pub use encoded::Encoded;

/// What a proxy's session is to send next.
#[derive(Debug)]
pub enum Update {
    Config(Encoded),
    /// The proxy's mesh no longer exists; its session ends.
    MeshDeleted,
}

type Slot = Arc<watch::Sender<Option<Arc<Update>>>>;

#[derive(Default)]
struct Slots {
    /// By mesh, then proxy name.
    by_mesh: BTreeMap<String, HashMap<String, Slot>>,
    /// Proxies that subscribed since the last round: computed in the next one whatever changed.
    fresh: HashSet<Key>,
}

/// The slots proxies' sessions read their configurations from.
#[derive(Default)]
pub struct Configs {
    slots: Mutex<Slots>,
    wake: Notify,
}

impl Configs {
    fn slots(&self) -> std::sync::MutexGuard<'_, Slots> {
        self.slots
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The slot of proxy `key`. Its session sends the newest value first (a reconnecting proxy
    /// gets its current version at once), then every new one.
    pub fn subscribe(&self, key: &Key) -> watch::Receiver<Option<Arc<Update>>> {
        let mut slots = self.slots();
        let existing = slots
            .by_mesh
            .get(&key.0)
            .and_then(|proxies| proxies.get(&key.1))
            .cloned();
        match existing {
            Some(slot) => slot.subscribe(),
            None => {
                let slot: Slot = Arc::new(watch::channel(None).0);
                let receiver = slot.subscribe();
                slots
                    .by_mesh
                    .entry(key.0.clone())
                    .or_default()
                    .insert(key.1.clone(), slot);
                slots.fresh.insert(key.clone());
                self.wake.notify_one();
                receiver
            }
        }
    }
}

/// What the task remembers of one proxy.
struct Computed {
    version: u64,
    dependencies: Dependencies,
}

/// Computes and publishes configurations until `shutdown`.
pub async fn run(
    configs: Arc<Configs>,
    state: Arc<ZoneState>,
    metrics: Arc<Metrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut changes = state.subscribe();
    let mut rounds = Rounds::default();
    loop {
        tokio::select! {
            changed = changes.changed() => if changed.is_err() { return },
            _ = configs.wake.notified() => {}
            _ = weft_runtime::stopped(&mut shutdown) => return,
        }
        tokio::time::sleep(SETTLE).await;
        changes.borrow_and_update();
        let computed = rounds.run(&configs, &state.current().meshes);
        metrics.configs_computed.inc_by(computed);
    }
}

#[derive(Default)]
struct Rounds {
    /// Each mesh as the previous round saw it.
    seen: BTreeMap<String, Arc<MeshState>>,
    computed: HashMap<Key, Computed>,
    endpoints: encoded::EndpointCache,
}

impl Rounds {
    /// One round over every mesh with proxies; returns how many configurations it computed.
    fn run(&mut self, configs: &Configs, meshes: &BTreeMap<String, Arc<MeshState>>) -> u64 {
        let (tracked, fresh) = {
            let mut slots = configs.slots();
            let tracked: Vec<(String, Vec<(String, Slot)>)> = slots
                .by_mesh
                .iter()
                .map(|(mesh, proxies)| {
                    let proxies = proxies
                        .iter()
                        .map(|(name, slot)| (name.clone(), slot.clone()))
                        .collect();
                    (mesh.clone(), proxies)
                })
                .collect();
            (tracked, std::mem::take(&mut slots.fresh))
        };
        self.endpoints.next_round();
        let mut computed = 0;
        let mut gone: Vec<Key> = Vec::new();
        for (mesh, proxies) in tracked {
            let Some(current) = meshes.get(&mesh).filter(|state| state.exists()) else {
                for (name, slot) in proxies {
                    slot.send_replace(Some(Arc::new(Update::MeshDeleted)));
                    gone.push((mesh.clone(), name));
                }
                continue;
            };
            let previous = self.seen.get(&mesh);
            let changed = match previous {
                Some(previous) if Arc::ptr_eq(previous, current) => Vec::new(),
                _ => diff::changes(previous.map(Arc::as_ref), current),
            };
            if changed.is_empty() && !fresh.iter().any(|key| key.0 == mesh) {
                // Nothing new in this mesh and nobody new: no proxy of it is looked at.
                self.seen.insert(mesh, current.clone());
                continue;
            }
            let mut view: Option<MeshView<'_>> = None;
            for (name, slot) in proxies {
                let key = (mesh.clone(), name);
                let Some(entry) = current.dataplanes.get(&key.1).filter(|entry| entry.local) else {
                    gone.push(key);
                    continue;
                };
                let Spec::Dataplane(spec) = &entry.resource.spec else {
                    continue;
                };
                let known = self.computed.get(&key);
                let stale = fresh.contains(&key)
                    || known.is_none_or(|known| {
                        changed
                            .iter()
                            .any(|change| known.dependencies.concerned_by(&key.1, spec, *change))
                    });
                if !stale {
                    continue;
                }
                let view = view.get_or_insert_with(|| current.view(&mesh));
                let Some((config, dependencies)) = proxy_config_with_dependencies(view, &key.1)
                else {
                    continue;
                };
                computed += 1;
                let mut encoded = match self.endpoints.encode(view, &config, &dependencies) {
                    Ok(encoded) => encoded,
                    Err(error) => {
                        tracing::error!(mesh = %key.0, dataplane = %key.1, %error, "config not serialisable");
                        continue;
                    }
                };
                let unchanged = matches!(
                    slot.borrow().as_deref(),
                    Some(Update::Config(sent)) if sent.same_as(&encoded)
                );
                let version = match self.computed.get_mut(&key) {
                    Some(known) if unchanged => {
                        known.dependencies = dependencies;
                        continue;
                    }
                    Some(known) => known.version + 1,
                    None => 1,
                };
                encoded.version = version;
                slot.send_replace(Some(Arc::new(Update::Config(encoded))));
                self.computed.insert(
                    key,
                    Computed {
                        version,
                        dependencies,
                    },
                );
            }
            self.seen.insert(mesh, current.clone());
        }
        self.seen.retain(|mesh, _| meshes.contains_key(mesh));
        if !gone.is_empty() {
            let mut slots = configs.slots();
            for key in gone {
                self.computed.remove(&key);
                if let Some(proxies) = slots.by_mesh.get_mut(&key.0) {
                    // A session subscribed meanwhile keeps its slot alive; it is dropped with it.
                    if proxies
                        .get(&key.1)
                        .is_some_and(|slot| slot.receiver_count() == 0)
                    {
                        proxies.remove(&key.1);
                    }
                    if proxies.is_empty() {
                        slots.by_mesh.remove(&key.0);
                    }
                }
            }
        }
        computed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::GlobalChange;
    use weft_model::resource::{Author, Resource, parse_resources};

    fn resource(yaml: &str) -> Resource {
        parse_resources(yaml, Author::Zone).unwrap().remove(0)
    }

    fn dataplane(name: &str, service: &str, calls: &str) -> Resource {
        resource(&format!(
            "apiVersion: weft.dev/v1alpha1\nkind: Dataplane\nmetadata: {{name: {name}, mesh: shop}}\n\
             spec: {{networking: {{address: 10.0.0.1, inbound: [{{port: 8080, servicePort: 9000, tags: {{service: {service}}}}}], outbound: [{{port: 7000, service: {calls}}}]}}}}\n"
        ))
    }

    fn version(receiver: &watch::Receiver<Option<Arc<Update>>>) -> Option<u64> {
        match receiver.borrow().as_deref() {
            Some(Update::Config(encoded)) => Some(encoded.version),
            _ => None,
        }
    }

    fn key(name: &str) -> Key {
        ("shop".to_string(), name.to_string())
    }

    #[test]
    fn a_round_computes_only_the_proxies_a_change_concerns() {
        let state = ZoneState::default();
        state.replace_global(vec![resource(
            "apiVersion: weft.dev/v1alpha1\nkind: Mesh\nmetadata: {name: shop}\n",
        )]);
        for (name, service, calls) in [
            ("web-1", "web", "catalog"),
            ("web-2", "web", "catalog"),
            ("catalog-1", "catalog", "billing"),
            ("billing-1", "billing", "ledger"),
        ] {
            state.put_local(dataplane(name, service, calls));
        }
        let configs = Configs::default();
        let receivers: Vec<_> = ["web-1", "web-2", "catalog-1", "billing-1"]
            .map(|name| configs.subscribe(&key(name)))
            .into();
        let mut rounds = Rounds::default();
        // Every new subscriber is computed once; nothing changed, so nothing more.
        assert_eq!(rounds.run(&configs, &state.current().meshes), 4);
        assert!(
            receivers
                .iter()
                .all(|receiver| version(receiver) == Some(1))
        );
        assert_eq!(rounds.run(&configs, &state.current().meshes), 0);

        // A policy on the web service: the two web proxies, and nobody else.
        state.apply_global(vec![GlobalChange::Upsert(Box::new(resource(
            "apiVersion: weft.dev/v1alpha1\nkind: Timeout\nmetadata: {name: web-timeout, mesh: shop}\n\
             spec: {targetRef: {kind: Service, name: web}, to: [{targetRef: {kind: Mesh}, default: {request: 2s}}]}\n",
        )))]);
        assert_eq!(rounds.run(&configs, &state.current().meshes), 2);
        let versions: Vec<_> = receivers.iter().map(version).collect();
        assert_eq!(versions, [Some(2), Some(2), Some(1), Some(1)]);

        // A new catalog endpoint: the proxies calling catalog (web) and the new proxy's own
        // dataplane is not subscribed, so it is not computed.
        state.put_local(dataplane("catalog-2", "catalog", "billing"));
        assert_eq!(rounds.run(&configs, &state.current().meshes), 2);
        let versions: Vec<_> = receivers.iter().map(version).collect();
        assert_eq!(versions, [Some(3), Some(3), Some(1), Some(1)]);

        // The mesh is deleted: every session is told, and the slots go.
        state.apply_global(vec![GlobalChange::Delete {
            kind: weft_model::Kind::Mesh,
            mesh: String::new(),
            name: "shop".into(),
        }]);
        assert_eq!(rounds.run(&configs, &state.current().meshes), 0);
        assert!(
            receivers
                .iter()
                .all(|receiver| matches!(receiver.borrow().as_deref(), Some(Update::MeshDeleted)))
        );
        assert!(rounds.computed.is_empty());
    }
}
