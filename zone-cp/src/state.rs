//! The zone's in-memory view of everything its proxies depend on, mirrored from the local store.
//!
//! Copy-on-write per mesh: a change replaces one mesh's `Arc<MeshState>`, so a proxy session
//! sees whether *its* mesh changed with a pointer comparison and recomputes only then.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use tokio::sync::watch;
use weft_model::effective::{MeshView, proxy_config};
use weft_model::proxy::ProxyConfig;
use weft_model::{Kind, Resource};

#[derive(Clone, Debug, Default)]
pub struct MeshState {
    /// The Mesh resource; `None` while only other resources of the mesh are known.
    pub mesh: Option<Arc<Resource>>,
    /// Routes and policies of every kind, by kind and name.
    pub policies: BTreeMap<(Kind, String), Arc<Resource>>,
    pub dataplanes: BTreeMap<String, Arc<DataplaneEntry>>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DataplaneEntry {
    pub resource: Resource,
    /// Registered in this zone (rather than received from global).
    pub local: bool,
}

#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub meshes: BTreeMap<String, Arc<MeshState>>,
}

/// A change received from global.
#[derive(Clone, Debug)]
pub enum GlobalChange {
    Upsert(Box<Resource>),
    Delete {
        kind: Kind,
        mesh: String,
        name: String,
    },
}

impl MeshState {
    /// How long the mesh's proxy certificates last (`spec.mtls.certificateLifetime`, 24 h).
    pub fn certificate_lifetime(&self) -> std::time::Duration {
        self.mesh
            .as_ref()
            .and_then(|mesh| match &mesh.spec {
                weft_model::Spec::Mesh(spec) => {
                    spec.mtls.as_ref()?.certificate_lifetime.as_ref()?.get()
                }
                _ => None,
            })
            .map_or(std::time::Duration::from_secs(86_400), |duration| {
                duration.as_std()
            })
    }

    pub fn exists(&self) -> bool {
        self.mesh.is_some()
    }

    /// Everything of the mesh a proxy configuration reads, indexed once.
    pub fn view<'a>(&'a self, mesh: &'a str) -> MeshView<'a> {
        let resources = self
            .mesh
            .iter()
            .map(|mesh| mesh.as_ref())
            .chain(self.policies.values().map(|policy| policy.as_ref()))
            .chain(self.dataplanes.values().map(|entry| &entry.resource));
        MeshView::new(mesh, resources)
    }

    /// The configuration of proxy `name`, or `None` when it is not registered here.
    pub fn proxy_config(&self, mesh: &str, name: &str) -> Option<ProxyConfig> {
        proxy_config(&self.view(mesh), name)
    }
}

pub struct ZoneState {
    snapshot: RwLock<Arc<Snapshot>>,
    generation: watch::Sender<u64>,
}

impl Default for ZoneState {
    fn default() -> Self {
        ZoneState {
            snapshot: RwLock::new(Arc::default()),
            generation: watch::channel(0).0,
        }
    }
}

fn key_of(resource: &Resource) -> (String, String) {
    (
        resource.mesh().unwrap_or(resource.name()).to_string(),
        resource.name().to_string(),
    )
}

impl ZoneState {
    pub fn current(&self) -> Arc<Snapshot> {
        self.snapshot
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Ticks after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.generation.subscribe()
    }

    fn update(&self, change: impl FnOnce(&mut Snapshot)) {
        {
            let mut guard = self
                .snapshot
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            let mut next = Snapshot::clone(&guard);
            change(&mut next);
            *guard = Arc::new(next);
        }
        self.generation.send_modify(|generation| *generation += 1);
    }

    /// Replaces everything received from global (a snapshot); local dataplanes stay.
    pub fn replace_global(&self, resources: Vec<Resource>) {
        self.update(|snapshot| {
            let mut fresh: BTreeMap<String, MeshState> = BTreeMap::new();
            for (name, mesh) in &snapshot.meshes {
                let local: BTreeMap<String, Arc<DataplaneEntry>> = mesh
                    .dataplanes
                    .iter()
                    .filter(|(_, e)| e.local)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                if !local.is_empty() {
                    fresh.entry(name.clone()).or_default().dataplanes = local;
                }
            }
            for resource in resources {
                upsert_global(fresh.entry(key_of(&resource).0).or_default(), resource);
            }
            snapshot.meshes = fresh
                .into_iter()
                .map(|(name, mesh)| (name, Arc::new(mesh)))
                .collect();
        });
    }

    pub fn apply_global(&self, changes: Vec<GlobalChange>) {
        if changes.is_empty() {
            return;
        }
        self.update(|snapshot| {
            for change in changes {
                match change {
                    GlobalChange::Upsert(resource) => {
                        let mesh = snapshot.meshes.entry(key_of(&resource).0).or_default();
                        upsert_global(Arc::make_mut(mesh), *resource);
                    }
                    GlobalChange::Delete { kind, mesh, name } => {
                        let mesh_name = if kind == Kind::Mesh {
                            name.clone()
                        } else {
                            mesh
                        };
                        let Some(state) = snapshot.meshes.get_mut(&mesh_name) else {
                            continue;
                        };
                        let state = Arc::make_mut(state);
                        match kind {
                            Kind::Mesh => state.mesh = None,
                            Kind::Dataplane => {
                                if state
                                    .dataplanes
                                    .get(&name)
                                    .is_some_and(|entry| !entry.local)
                                {
                                    state.dataplanes.remove(&name);
                                }
                            }
                            kind => {
                                state.policies.remove(&(kind, name));
                            }
                        }
                    }
                }
            }
            snapshot.meshes.retain(|_, mesh| {
                mesh.exists() || !mesh.dataplanes.is_empty() || !mesh.policies.is_empty()
            });
        });
    }

    pub fn put_local(&self, resource: Resource) {
        self.put_locals(vec![resource]);
    }

    /// Registers several of this zone's dataplanes as one change.
    pub fn put_locals(&self, resources: Vec<Resource>) {
        self.update(|snapshot| {
            for resource in resources {
                let (mesh, name) = key_of(&resource);
                let state = Arc::make_mut(snapshot.meshes.entry(mesh).or_default());
                state.dataplanes.insert(
                    name,
                    Arc::new(DataplaneEntry {
                        resource,
                        local: true,
                    }),
                );
            }
        });
    }

    pub fn delete_local(&self, mesh: &str, name: &str) {
        self.update(|snapshot| {
            if let Some(state) = snapshot.meshes.get_mut(mesh) {
                let state = Arc::make_mut(state);
                if state.dataplanes.get(name).is_some_and(|entry| entry.local) {
                    state.dataplanes.remove(name);
                }
            }
        });
    }
}

fn upsert_global(state: &mut MeshState, resource: Resource) {
    match resource.kind() {
        Kind::Mesh => state.mesh = Some(Arc::new(resource)),
        // Zones have no use for tenants or zones; global does not send them.
        Kind::Tenant | Kind::Zone => {}
        Kind::Dataplane => {
            // Global never sends this zone's own dataplanes; never let a remote copy shadow one.
            if state
                .dataplanes
                .get(resource.name())
                .is_some_and(|entry| entry.local)
            {
                return;
            }
            let entry = DataplaneEntry {
                resource,
                local: false,
            };
            state
                .dataplanes
                .insert(entry.resource.name().to_string(), Arc::new(entry));
        }
        kind => {
            state
                .policies
                .insert((kind, resource.name().to_string()), Arc::new(resource));
        }
    }
}
