//! Each mesh's root CA, kept in the store with its key encrypted: made (or taken from the
//! mesh's `spec.mtls.ca.provided`) when the mesh is written; it signs the intermediate CAs
//! zones ask for, and nothing else. The key is never logged and never leaves this module in
//! the clear.
//!
//! Rotation, when the mesh's CA changes (or `POST …/ca/rotate`): the new root is first trusted
//! beside the old one (`trusting`), then signs every certificate again (`reissuing`), then the
//! old root is dropped (`retiring`), and the mesh is `ready` again. Each step waits until every
//! zone says all its proxies hold certificates of the step's generation; a zone that is away
//! while it still has proxies in the mesh holds the rotation where it is.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, watch};
use weft_identity::ca::{self, CertificateAuthority};
use weft_model::resource::{Resource, Spec};
use weft_model::{FieldError, Kind, ValidationErrors};

use crate::error::{Error, Result};
use crate::secrets::Secrets;
use crate::store::{Actor, AuditEntry, MeshCaRoot, MeshCaState, Phase, Store, now_millis};

const ROOT_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Zones renew their intermediates at 70 % of this.
pub const INTERMEDIATE_LIFETIME: Duration = Duration::from_secs(7 * 86_400);
/// How often rotations are looked at (also on every progress report).
const STEP_INTERVAL: Duration = Duration::from_secs(1);

/// What a mesh trusts and which root signs, as sent to zones.
#[derive(Clone, Debug, PartialEq)]
pub struct Trust {
    pub mesh: String,
    pub generation: u64,
    pub phase: Phase,
    pub bundle_pem: String,
    pub signing_fingerprint: String,
}

/// A zone's report on a mesh's trust generation.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub generation: u64,
    pub proxies: u32,
    pub current: u32,
    pub intermediate_current: bool,
}

/// The CA a mesh asks for.
#[derive(Clone, Debug)]
pub enum Desired {
    Builtin,
    Provided {
        certificate: String,
        fingerprint: String,
        /// Only when the write carried it (needed to start using a new certificate).
        key: Option<String>,
    },
}

pub struct MeshCas {
    store: Store,
    secrets: Arc<Secrets>,
    changes: watch::Sender<u64>,
    progress: Mutex<HashMap<(String, String), Progress>>,
    reported: Notify,
}

fn internal(error: impl std::fmt::Display) -> Error {
    Error::Internal(error.to_string())
}

fn root_of<'a>(roots: &'a HashMap<i64, MeshCaRoot>, mesh: &str, id: i64) -> Result<&'a MeshCaRoot> {
    roots
        .get(&id)
        .ok_or_else(|| internal(format!("mesh {mesh} lost its root {id}")))
}

impl MeshCas {
    pub fn new(store: Store, secrets: Arc<Secrets>) -> MeshCas {
        MeshCas {
            store,
            secrets,
            changes: watch::channel(0).0,
            progress: Mutex::default(),
            reported: Notify::new(),
        }
    }

    /// Ticks whenever a mesh's trust changes.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changes.subscribe()
    }

    fn changed(&self) {
        self.changes.send_modify(|tick| *tick += 1);
    }

    fn new_root(&self, mesh: &str, id: i64, desired: &Desired) -> Result<MeshCaRoot> {
        let (certificate, key, source) = match desired {
            Desired::Builtin => {
                let (certificate, key) = ca::new_root(mesh, ROOT_LIFETIME).map_err(|error| {
                    internal(format!("creating the CA of mesh {mesh}: {error}"))
                })?;
                (certificate, key, "builtin")
            }
            Desired::Provided {
                certificate,
                key: Some(key),
                ..
            } => (certificate.clone(), key.clone(), "provided"),
            Desired::Provided { key: None, .. } => {
                return Err(Error::Validation(ValidationErrors::single(
                    "spec.mtls.ca.provided.key",
                    "is required to start using this certificate",
                )));
            }
        };
        let der = ca::first_der(&certificate).map_err(internal)?;
        Ok(MeshCaRoot {
            mesh: mesh.to_string(),
            id,
            encrypted_key: self.secrets.seal(&key)?,
            fingerprint: ca::fingerprint(&der),
            certificate,
            source: source.to_string(),
            created_at: now_millis(),
        })
    }

    /// The mesh's CA state, made with a builtin root when it has none yet.
    async fn ensure(&self, mesh: &str) -> Result<MeshCaState> {
        if let Some(state) = self.store.mesh_ca_state(mesh).await? {
            return Ok(state);
        }
        let root = self.new_root(mesh, 1, &Desired::Builtin)?;
        self.store.create_mesh_ca(&root).await?;
        tracing::info!(mesh, fingerprint = %root.fingerprint, "mesh CA created");
        self.changed();
        self.store
            .mesh_ca_state(mesh)
            .await?
            .ok_or_else(|| internal("the mesh CA vanished"))
    }

    async fn roots(&self, mesh: &str) -> Result<HashMap<i64, MeshCaRoot>> {
        Ok(self
            .store
            .mesh_ca_roots(mesh)
            .await?
            .into_iter()
            .map(|root| (root.id, root))
            .collect())
    }

    fn trust_of(state: &MeshCaState, roots: &HashMap<i64, MeshCaRoot>) -> Result<Trust> {
        let bundle_pem = state
            .trusted
            .iter()
            .map(|id| {
                roots
                    .get(id)
                    .map(|root| root.certificate.clone())
                    .ok_or_else(|| internal(format!("mesh {} lost root {id}", state.mesh)))
            })
            .collect::<Result<Vec<_>>>()?
            .concat();
        let signer = roots
            .get(&state.signer)
            .ok_or_else(|| internal(format!("mesh {} lost its signing root", state.mesh)))?;
        Ok(Trust {
            mesh: state.mesh.clone(),
            generation: u64::try_from(state.generation).unwrap_or(0),
            phase: state.phase,
            bundle_pem,
            signing_fingerprint: signer.fingerprint.clone(),
        })
    }

    /// What the mesh trusts now (its CA made when it has none).
    pub async fn trust(&self, mesh: &str) -> Result<Trust> {
        let state = self.ensure(mesh).await?;
        Self::trust_of(&state, &self.roots(mesh).await?)
    }

    /// The trust of every mesh that has a CA.
    pub async fn all_trust(&self) -> Result<Vec<Trust>> {
        let mut all = Vec::new();
        for state in self.store.mesh_ca_states().await? {
            all.push(Self::trust_of(&state, &self.roots(&state.mesh).await?)?);
        }
        Ok(all)
    }

    /// An intermediate CA for `zone` in `mesh` from the zone's CSR, signed by the mesh's
    /// signing root: (certificate, trust bundle, signing root's fingerprint).
    pub async fn sign_intermediate(
        &self,
        mesh: &str,
        zone: &str,
        csr: &str,
    ) -> Result<(String, String, String)> {
        let state = self.ensure(mesh).await?;
        let roots = self.roots(mesh).await?;
        let trust = Self::trust_of(&state, &roots)?;
        let signer = root_of(&roots, mesh, state.signer)?;
        let key = self.secrets.open(&signer.encrypted_key)?;
        let authority = CertificateAuthority::load(&signer.certificate, &key)
            .map_err(|error| internal(format!("loading the CA of mesh {mesh}: {error}")))?;
        let certificate = authority
            .sign_intermediate(csr, mesh, zone, INTERMEDIATE_LIFETIME)
            .map_err(|error| {
                Error::BadRequest(format!(
                    "the CA request of zone {zone} for mesh {mesh}: {error}"
                ))
            })?;
        Ok((certificate, trust.bundle_pem, trust.signing_fingerprint))
    }

    /// Checks the CA a Mesh being written asks for, and takes a provided key out of it (the
    /// key is stored encrypted by [`MeshCas::reconcile`], never in the manifest). `prefix` is
    /// prepended to field paths (`documents[2].`).
    pub async fn prepare(&self, resource: &mut Resource, prefix: &str) -> Result<Option<Desired>> {
        let mesh = resource.name().to_string();
        let Spec::Mesh(spec) = &mut resource.spec else {
            return Ok(None);
        };
        let field = |name: &str, message: String| {
            Error::Validation(ValidationErrors(vec![FieldError {
                field: format!("{prefix}spec.mtls.ca.provided.{name}"),
                message,
            }]))
        };
        let provided = spec
            .mtls
            .as_mut()
            .and_then(|mtls| mtls.ca.as_mut())
            .and_then(|ca| ca.provided.as_mut());
        let desired = match provided {
            None => Desired::Builtin,
            Some(provided) => {
                let key = provided.key.take();
                let der = ca::first_der(&provided.certificate)
                    .map_err(|error| field("certificate", error.to_string()))?;
                if let Some(key) = &key {
                    ca::check_provided(&provided.certificate, key)
                        .map_err(|error| field("key", error.to_string()))?;
                }
                Desired::Provided {
                    certificate: provided.certificate.clone(),
                    fingerprint: ca::fingerprint(&der),
                    key,
                }
            }
        };
        let Some(state) = self.store.mesh_ca_state(&mesh).await? else {
            if let Desired::Provided { key: None, .. } = desired {
                return Err(field(
                    "key",
                    "is required: the mesh does not use this certificate yet".into(),
                ));
            }
            return Ok(Some(desired));
        };
        let roots = self.roots(&mesh).await?;
        let target = roots.get(state.trusted.last().unwrap_or(&state.signer));
        let wanted = match (&desired, target) {
            (_, None) => true,
            (Desired::Builtin, Some(target)) => target.source != "builtin",
            (Desired::Provided { fingerprint, .. }, Some(target)) => {
                &target.fingerprint != fingerprint
            }
        };
        if wanted && state.phase != Phase::Ready {
            return Err(Error::Conflict(format!(
                "the CA of mesh {mesh} is rotating (phase {}); change it again once the phase is ready (GET /api/v1/meshes/{mesh}/ca)",
                state.phase.as_str()
            )));
        }
        if wanted && let Desired::Provided { key: None, .. } = desired {
            return Err(field(
                "key",
                "is required: the mesh does not use this certificate yet".into(),
            ));
        }
        Ok(Some(desired))
    }

    /// After a Mesh was stored: its CA is made, or starts rotating to what the mesh asks for.
    pub async fn reconcile(&self, mesh: &str, desired: &Desired) -> Result<()> {
        let Some(state) = self.store.mesh_ca_state(mesh).await? else {
            let root = self.new_root(mesh, 1, desired)?;
            self.store.create_mesh_ca(&root).await?;
            tracing::info!(mesh, fingerprint = %root.fingerprint, source = %root.source, "mesh CA created");
            self.changed();
            return Ok(());
        };
        if state.phase != Phase::Ready {
            return Ok(());
        }
        let roots = self.roots(mesh).await?;
        let signer = root_of(&roots, mesh, state.signer)?;
        let change = match desired {
            Desired::Builtin => signer.source != "builtin",
            Desired::Provided { fingerprint, .. } => &signer.fingerprint != fingerprint,
        };
        if change {
            self.start_rotation(&state, &roots, desired, None).await?;
        }
        Ok(())
    }

    /// `POST …/ca/rotate`: a new builtin root for a mesh that uses the builtin CA.
    /// Starts a rotation to a new builtin root, recorded in the audit log as `actor`'s.
    pub async fn rotate(&self, mesh: &str, actor: &Actor) -> Result<Trust> {
        let state = self.ensure(mesh).await?;
        let roots = self.roots(mesh).await?;
        if state.phase != Phase::Ready {
            return Err(Error::Conflict(format!(
                "the CA of mesh {mesh} is already rotating (phase {})",
                state.phase.as_str()
            )));
        }
        if root_of(&roots, mesh, state.signer)?.source != "builtin" {
            return Err(Error::Conflict(format!(
                "mesh {mesh} uses a provided CA; rotate it by changing spec.mtls.ca.provided"
            )));
        }
        let tenant = self
            .store
            .get(Kind::Mesh, "", mesh)
            .await?
            .map(|row| crate::store::tenant_of(&row.spec))
            .unwrap_or_default();
        let entry = AuditEntry::new("rotate", "MeshCA", mesh)
            .in_mesh(mesh)
            .in_tenant(&tenant);
        self.start_rotation(&state, &roots, &Desired::Builtin, Some((actor, &entry)))
            .await?;
        self.trust(mesh).await
    }

    async fn start_rotation(
        &self,
        state: &MeshCaState,
        roots: &HashMap<i64, MeshCaRoot>,
        desired: &Desired,
        audit: Option<(&Actor, &AuditEntry)>,
    ) -> Result<()> {
        let id = roots.keys().max().copied().unwrap_or(0) + 1;
        let root = self.new_root(&state.mesh, id, desired)?;
        let mut trusted = state.trusted.clone();
        trusted.push(id);
        let next = MeshCaState {
            phase: Phase::Trusting,
            trusted,
            generation: state.generation + 1,
            changed_at: now_millis(),
            ..state.clone()
        };
        if !self
            .store
            .start_mesh_ca_rotation(&root, state.generation, &next, audit)
            .await?
        {
            return Err(Error::Conflict(format!(
                "the CA of mesh {} changed meanwhile; try again",
                state.mesh
            )));
        }
        tracing::info!(mesh = %state.mesh, fingerprint = %root.fingerprint, "mesh CA rotation started: trusting the new root");
        self.changed();
        Ok(())
    }

    /// A zone's report.
    pub fn record_progress(&self, mesh: &str, zone: &str, progress: Progress) {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert((mesh.to_string(), zone.to_string()), progress);
        self.reported.notify_one();
    }

    /// A zone went away: its reports no longer hold.
    pub fn forget_zone(&self, zone: &str) {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .retain(|(_, reporter), _| reporter != zone);
    }

    fn progress_of(&self, mesh: &str) -> HashMap<String, Progress> {
        self.progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .filter(|((of, _), _)| of == mesh)
            .map(|((_, zone), progress)| (zone.clone(), progress.clone()))
            .collect()
    }

    /// Zones the current step of `state` still waits for, with why.
    pub async fn waiting_for(&self, state: &MeshCaState) -> Result<Vec<(String, String)>> {
        let generation = u64::try_from(state.generation).unwrap_or(0);
        let reports = self.progress_of(&state.mesh);
        let dataplanes = self.store.list(Kind::Dataplane, Some(&state.mesh)).await?;
        let mut waiting = Vec::new();
        for zone in self.store.zones().await? {
            let has_proxies = dataplanes.iter().any(|row| row.zone == zone.name);
            if !zone.online {
                if has_proxies {
                    waiting.push((zone.name, "offline with proxies in the mesh".to_string()));
                }
                continue;
            }
            match reports.get(&zone.name) {
                Some(report) if report.generation == generation => {
                    if report.current < report.proxies {
                        waiting.push((
                            zone.name,
                            format!("{} of {} proxies renewed", report.current, report.proxies),
                        ));
                    } else if state.phase == Phase::Reissuing && !report.intermediate_current {
                        waiting.push((zone.name, "its intermediate CA is not renewed yet".into()));
                    }
                }
                _ => waiting.push((zone.name, "has not seen this step yet".into())),
            }
        }
        Ok(waiting)
    }

    /// Moves every rotating mesh whose current step is complete to its next phase.
    pub async fn step(&self) -> Result<()> {
        for state in self.store.mesh_ca_states().await? {
            if state.phase == Phase::Ready || !self.waiting_for(&state).await?.is_empty() {
                continue;
            }
            let newest = *state.trusted.last().unwrap_or(&state.signer);
            let next = match state.phase {
                Phase::Trusting => MeshCaState {
                    phase: Phase::Reissuing,
                    signer: newest,
                    generation: state.generation + 1,
                    ..state.clone()
                },
                Phase::Reissuing => MeshCaState {
                    phase: Phase::Retiring,
                    trusted: vec![state.signer],
                    generation: state.generation + 1,
                    ..state.clone()
                },
                Phase::Retiring | Phase::Ready => MeshCaState {
                    phase: Phase::Ready,
                    ..state.clone()
                },
            };
            let next = MeshCaState {
                changed_at: now_millis(),
                ..next
            };
            if self.store.advance_mesh_ca(state.generation, &next).await? {
                tracing::info!(mesh = %state.mesh, phase = next.phase.as_str(), generation = next.generation, "mesh CA rotation moved on");
                self.changed();
            }
        }
        Ok(())
    }

    /// What `GET /api/v1/meshes/{mesh}/ca` shows.
    pub async fn view(&self, mesh: &str) -> Result<CaView> {
        let state = self.ensure(mesh).await?;
        let roots = self.roots(mesh).await?;
        let waiting = self.waiting_for(&state).await?;
        let mut listed = Vec::new();
        for id in &state.trusted {
            let root = root_of(&roots, mesh, *id)?;
            let der = ca::first_der(&root.certificate).map_err(internal)?;
            let not_after = ca::not_after(&der)
                .map_err(internal)?
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0);
            listed.push(RootView {
                fingerprint: root.fingerprint.clone(),
                source: root.source.clone(),
                certificate: root.certificate.clone(),
                not_after: crate::auth::rfc3339(not_after),
                signing: *id == state.signer,
            });
        }
        let signer = root_of(&roots, mesh, state.signer)?;
        Ok(CaView {
            mesh: mesh.to_string(),
            phase: state.phase,
            generation: u64::try_from(state.generation).unwrap_or(0),
            certificate: signer.certificate.clone(),
            fingerprint: signer.fingerprint.clone(),
            not_after: listed
                .iter()
                .find(|root| root.signing)
                .map(|root| root.not_after.clone())
                .unwrap_or_default(),
            roots: listed,
            waiting_for: waiting
                .into_iter()
                .map(|(zone, reason)| WaitingZone { zone, reason })
                .collect(),
            zones: self.progress_of(mesh).into_iter().collect(),
        })
    }

    /// A mesh was deleted: its CA goes too, so a new mesh of that name starts afresh.
    pub async fn forget_mesh(&self, mesh: &str) -> Result<()> {
        self.store.delete_mesh_ca(mesh).await?;
        self.changed();
        Ok(())
    }
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RootView {
    pub fingerprint: String,
    pub source: String,
    pub certificate: String,
    pub not_after: String,
    /// This root signs the zones' intermediates now.
    pub signing: bool,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitingZone {
    pub zone: String,
    pub reason: String,
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CaView {
    pub mesh: String,
    pub phase: Phase,
    pub generation: u64,
    /// The signing root.
    pub certificate: String,
    pub fingerprint: String,
    pub not_after: String,
    /// Every trusted root.
    pub roots: Vec<RootView>,
    /// Zones the current rotation step waits for.
    pub waiting_for: Vec<WaitingZone>,
    /// The zones' last reports.
    pub zones: std::collections::BTreeMap<String, Progress>,
}

/// Zones' rotation reports, shared with the other replicas: the leader moves rotations on
/// whichever replica the zones report to.
impl crate::replicas::ZoneBoard for MeshCas {
    fn kind(&self) -> &'static str {
        "ca-progress"
    }

    fn export(&self, zone: &str) -> Option<serde_json::Value> {
        let progress = self
            .progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut entries: Vec<(&String, &Progress)> = progress
            .iter()
            .filter(|((_, reporter), _)| reporter == zone)
            .map(|((mesh, _), report)| (mesh, report))
            .collect();
        if entries.is_empty() {
            return None;
        }
        entries.sort_by(|a, b| a.0.cmp(b.0));
        Some(serde_json::json!(entries))
    }

    fn import(
        &self,
        zone: &str,
        value: serde_json::Value,
    ) -> std::result::Result<(), serde_json::Error> {
        let entries: Vec<(String, Progress)> = serde_json::from_value(value)?;
        let mut progress = self
            .progress
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        progress.retain(|(_, reporter), _| reporter != zone);
        for (mesh, report) in entries {
            progress.insert((mesh, zone.to_string()), report);
        }
        drop(progress);
        self.reported.notify_one();
        Ok(())
    }

    fn forget(&self, zone: &str) {
        self.forget_zone(zone);
    }
}

/// Moves rotations along until shutdown: every second and on every zone report.
/// Only the leader moves them.
pub async fn drive(
    cas: Arc<MeshCas>,
    leadership: crate::replicas::Leadership,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(STEP_INTERVAL);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = cas.reported.notified() => {}
            _ = weft_runtime::stopped(&mut shutdown) => return,
        }
        if leadership.term().is_none() {
            continue;
        }
        if let Err(error) = cas.step().await {
            tracing::warn!(%error, "CA rotation step failed; trying again");
        }
    }
}
