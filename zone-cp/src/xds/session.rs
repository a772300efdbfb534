//! One proxyless application's stream, whichever variant of the protocol it speaks: who it is,
//! what it subscribed to, the resources of its newest configuration, what was sent and what it
//! acknowledged or rejected (per type and version, in its Dataplane's status).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::google::protobuf::Any;
use serde::Serialize;
use tokio::sync::watch;
use weft_model::name::name_problem;
use weft_model::proxy::ProxyConfig;

use super::node::Applicant;
use super::resources::{self, CLUSTER, LISTENER, Snapshot, listener_service};
use crate::configs::Update;
use crate::dataplanes::{DataplaneService, Key};
use crate::error::Error;

/// Most names one subscription may hold.
pub const MAX_NAMES: usize = 1_024;
/// Most services a proxyless application may call (as many outbounds as a Dataplane holds).
const MAX_SERVICES: usize = 64;
/// Longest rejection detail kept.
const MAX_DETAIL: usize = 1_024;
/// Most re-registrations (listener subscription changes) per window: each is a store write.
const MAX_REREGISTRATIONS: usize = 20;
const REREGISTRATION_WINDOW: std::time::Duration = std::time::Duration::from_secs(10);

/// What the zone knows of one resource type of a proxyless application's stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TypeStatus {
    pub sent_version: u64,
    pub acked_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejection: Option<String>,
}

/// Names subscribed to for one type; `wildcard` for every resource of the type.
#[derive(Debug, Default)]
pub struct Subscription {
    pub names: BTreeSet<String>,
    pub wildcard: bool,
}

/// What was last sent of one type.
#[derive(Debug, Default)]
pub struct Sent {
    pub nonce: String,
    pub version: u64,
    pub resources: BTreeMap<String, Any>,
}

pub struct Session {
    pub service: DataplaneService,
    pub key: Key,
    pub id: u64,
    applicant: Applicant,
    token: String,
    /// Services of the Dataplane as last registered.
    registered: Vec<String>,
    /// When the last re-registrations happened, newest last.
    reregistered: std::collections::VecDeque<tokio::time::Instant>,
    pub subscriptions: BTreeMap<&'static str, Subscription>,
    pub sent: BTreeMap<&'static str, Sent>,
    config: Option<(u64, ProxyConfig)>,
    snapshot: Snapshot,
    next_nonce: u64,
    /// Types to answer even when their resources did not change (a new SotW subscription).
    forced: BTreeSet<&'static str>,
    pub updates: watch::Receiver<Option<Arc<Update>>>,
    pub superseded: Arc<tokio::sync::Notify>,
}

impl Session {
    /// Registers the application (no outbounds yet) and opens its session.
    pub async fn start(
        service: DataplaneService,
        applicant: Applicant,
        header_token: String,
    ) -> Result<Session, Error> {
        let token = if header_token.is_empty() {
            applicant.token.clone().unwrap_or_default()
        } else {
            header_token
        };
        let resource = service.admit_resource(applicant.dataplane(&[])?, &token)?;
        service.register(&resource).await?;
        let key: Key = (applicant.mesh.clone(), applicant.name.clone());
        let (id, superseded) = service.open_session(&key);
        let updates = service.configs.subscribe(&key);
        tracing::info!(mesh = %key.0, dataplane = %key.1, "proxyless application connected over xDS");
        Ok(Session {
            service,
            key,
            id,
            applicant,
            token,
            registered: Vec::new(),
            reregistered: std::collections::VecDeque::new(),
            subscriptions: BTreeMap::new(),
            sent: BTreeMap::new(),
            config: None,
            snapshot: Snapshot::default(),
            next_nonce: 0,
            forced: BTreeSet::new(),
            updates,
            superseded,
        })
    }

    pub fn nonce(&mut self) -> String {
        self.next_nonce += 1;
        self.next_nonce.to_string()
    }

    /// An acknowledgement (`error` empty) or rejection of the response with `nonce`; false
    /// when the nonce is not the type's newest (a stale request, ignored).
    pub fn answer(&mut self, type_url: &'static str, nonce: &str, error: Option<&str>) -> bool {
        let Some(sent) = self.sent.get(type_url).filter(|sent| sent.nonce == nonce) else {
            return false;
        };
        let version = sent.version;
        let name = resources::type_name(type_url);
        match error {
            Some(detail) => {
                let detail: String = detail.chars().take(MAX_DETAIL).collect();
                self.service.metrics.config_rejections.inc();
                tracing::warn!(mesh = %self.key.0, dataplane = %self.key.1, r#type = name, version, reason = %detail, "proxyless application rejected config");
                self.record(type_url, |status| {
                    status.rejection = Some(format!("{name} version {version}: {detail}"));
                });
            }
            None => self.record(type_url, |status| {
                status.acked_version = version;
                status.rejection = None;
            }),
        }
        true
    }

    /// Records a change to one type's status and derives the session's: the version sent
    /// is the newest of any type, applied once every type acknowledged what it was sent.
    fn record(&self, type_url: &'static str, change: impl FnOnce(&mut TypeStatus)) {
        self.service.update_session(&self.key, self.id, |info| {
            let status = info
                .xds
                .entry(resources::type_name(type_url).to_string())
                .or_default();
            change(status);
            info.config_version = info.xds.values().map(|s| s.sent_version).max().unwrap_or(0);
            if info.xds.values().all(|s| s.acked_version == s.sent_version) {
                info.acked_version = info.config_version;
            }
            info.last_rejection = info.xds.values().find_map(|s| s.rejection.clone());
        });
    }

    /// Replaces the names subscribed to for one type. A listener subscription changes the
    /// services the application calls: its Dataplane is registered again with them.
    pub async fn subscribe(
        &mut self,
        type_url: &'static str,
        names: BTreeSet<String>,
        wildcard: bool,
    ) -> Result<(), Error> {
        if names.len() > MAX_NAMES {
            return Err(Error::Invalid(weft_model::ValidationErrors::single(
                "resource_names",
                format!("at most {MAX_NAMES} names per type"),
            )));
        }
        // What is no longer subscribed counts as never sent: subscribed again, it is sent again.
        if let Some(sent) = self.sent.get_mut(type_url) {
            sent.resources
                .retain(|name, _| wildcard || names.contains(name));
        }
        let subscription = self.subscriptions.entry(type_url).or_default();
        subscription.names = names;
        subscription.wildcard = wildcard;
        // Only the listeners asked for shape the resources; other types filter them.
        if type_url == LISTENER {
            self.register_outbounds().await?;
            self.rebuild();
        }
        Ok(())
    }

    async fn register_outbounds(&mut self) -> Result<(), Error> {
        let Some(listeners) = self.subscriptions.get(LISTENER) else {
            return Ok(());
        };
        let services: Vec<String> = listeners
            .names
            .iter()
            .map(|name| listener_service(name))
            .filter(|service| name_problem(service).is_none())
            .map(str::to_string)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .take(MAX_SERVICES)
            .collect();
        if services == self.registered {
            return Ok(());
        }
        let now = tokio::time::Instant::now();
        while self
            .reregistered
            .front()
            .is_some_and(|at| now.duration_since(*at) > REREGISTRATION_WINDOW)
        {
            self.reregistered.pop_front();
        }
        if self.reregistered.len() >= MAX_REREGISTRATIONS {
            return Err(Error::Rejected(format!(
                "listener subscriptions changed more than {MAX_REREGISTRATIONS} times in {}s; each change registers the dataplane again",
                REREGISTRATION_WINDOW.as_secs()
            )));
        }
        self.reregistered.push_back(now);
        let resource = self
            .service
            .admit_resource(self.applicant.dataplane(&services)?, &self.token)?;
        self.service.register(&resource).await?;
        self.registered = services;
        Ok(())
    }

    /// Takes the newest configuration from the slot; false when the mesh was deleted.
    pub fn take_update(&mut self) -> bool {
        let update = self.updates.borrow_and_update().clone();
        match update.as_deref() {
            Some(Update::Config(encoded)) => {
                match serde_json::from_str::<ProxyConfig>(&encoded.json()) {
                    Ok(config) => self.config = Some((encoded.version, config)),
                    Err(error) => {
                        tracing::error!(%error, "a configuration does not read back");
                    }
                }
                self.rebuild();
                true
            }
            Some(Update::MeshDeleted) => false,
            None => true,
        }
    }

    fn rebuild(&mut self) {
        let Some((_, config)) = &self.config else {
            return;
        };
        let mut listeners: BTreeSet<String> = self
            .subscriptions
            .get(LISTENER)
            .map(|s| s.names.clone())
            .unwrap_or_default();
        if self.subscriptions.get(LISTENER).is_some_and(|s| s.wildcard) {
            listeners.extend(config.outbound.iter().map(|o| o.service.clone()));
        }
        self.snapshot = Snapshot::build(config, &listeners);
    }

    /// The configuration's version, once the zone computed one that holds every service the
    /// application asked for (until then listeners would look absent).
    pub fn ready_version(&self) -> Option<u64> {
        let (version, config) = self.config.as_ref()?;
        let complete = self
            .registered
            .iter()
            .all(|service| config.outbound.iter().any(|o| &o.service == service));
        complete.then_some(*version)
    }

    /// The resources of `type_url` the application subscribed to, as they are now.
    pub fn wanted(&self, type_url: &'static str) -> Option<BTreeMap<String, Any>> {
        let subscription = self.subscriptions.get(type_url)?;
        let all = self.snapshot.of(type_url);
        let wildcard = subscription.wildcard && matches!(type_url, LISTENER | CLUSTER);
        Some(
            all.into_iter()
                .flatten()
                .filter(|(name, _)| wildcard || subscription.names.contains(*name))
                .map(|(name, resource)| (name.clone(), resource.clone()))
                .collect(),
        )
    }

    /// Answers `type_url` at the next chance even when nothing changed.
    pub fn force(&mut self, type_url: &'static str) {
        self.forced.insert(type_url);
    }

    pub fn forced(&self, type_url: &'static str) -> bool {
        self.forced.contains(type_url)
    }

    /// Records what was sent of one type.
    pub fn record_sent(
        &mut self,
        type_url: &'static str,
        nonce: String,
        version: u64,
        resources: BTreeMap<String, Any>,
    ) {
        self.forced.remove(type_url);
        self.sent.insert(
            type_url,
            Sent {
                nonce,
                version,
                resources,
            },
        );
        self.record(type_url, |status| status.sent_version = version);
    }

    pub async fn close(self) {
        tracing::info!(mesh = %self.key.0, dataplane = %self.key.1, "proxyless application disconnected");
        self.service.close_session(self.key, self.id, false).await;
    }
}
