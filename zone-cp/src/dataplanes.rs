//! Proxies connect here (gRPC, port 5678): one `Session` stream per proxy. The zone registers
//! the proxy's Dataplane, sends its full config, then a new version whenever it changes, and
//! forwards the proxy's telemetry to global. A proxy that disconnects without saying goodbye
//! stays registered for a grace period so a restart or a network blip does not drop it.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use weft_api::proto::dataplane_discovery_server::{DataplaneDiscovery, DataplaneDiscoveryServer};
use weft_api::proto::{
    Certificate, CertificateRequest, DataplaneHello, DataplaneMessage, ProxyConfigUpdate,
    ZoneToDataplane, dataplane_message, zone_to_dataplane,
};
use weft_model::Spec;
use weft_model::dataplane::{SERVICE_TAG, ZONE_LABEL};
use weft_model::resource::{Author, Resource};
use weft_model::{Kind, ValidationErrors};

use crate::credentials::Credentials;
use crate::error::Error;
use crate::health::HealthReports;
use crate::metrics::Metrics;
use crate::state::ZoneState;
use crate::store::ZoneStore;

use weft_api::sync::MAX_MESSAGE_BYTES;

/// How long a proxy asked to renew its certificates has before it is asked again.
const RENEW_AGAIN: Duration = Duration::from_secs(5);

/// Sleeps until `at`; never resolves without one.
async fn sleep_until(at: Option<tokio::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// What the zone knows of one registered proxy's connection.
#[derive(Clone, Debug, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionInfo {
    #[serde(skip)]
    pub id: u64,
    pub connected: bool,
    pub config_version: u64,
    pub acked_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_rejection: Option<String>,
    /// When the newest certificate issued to the proxy expires (Unix seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate_expires: Option<i64>,
    /// For a proxyless application: what it was sent and acknowledged of each xDS type.
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub xds: std::collections::BTreeMap<String, crate::xds::session::TypeStatus>,
    /// Tells the session's task that a newer session of the proxy took over.
    #[serde(skip)]
    pub superseded: Option<Arc<tokio::sync::Notify>>,
}

/// (mesh, dataplane name).
pub type Key = (String, String);

/// Every registered proxy's session, shared by the proxy streams, the HTTP API and the uplink.
pub type Sessions = Arc<Mutex<HashMap<Key, SessionInfo>>>;

#[derive(Clone)]
pub struct DataplaneService {
    pub zone: String,
    pub store: ZoneStore,
    pub state: Arc<ZoneState>,
    /// Bumped after every local registration change; the uplink follows it.
    pub local_changes: Arc<watch::Sender<u64>>,
    /// The running sums of the proxies' telemetry, taken by the uplink.
    pub telemetry: Arc<crate::telemetry::Telemetry>,
    pub sessions: Sessions,
    pub grace: Duration,
    pub metrics: Arc<Metrics>,
    pub shutdown: watch::Receiver<bool>,
    /// What the proxies' health checks say of the endpoints they call.
    pub health: Arc<HealthReports>,
    /// Global's keys for checking dataplane tokens.
    pub credentials: Arc<Credentials>,
    /// Accept dataplanes at loopback and other local-only addresses.
    pub allow_loopback: bool,
    /// The zone's intermediate CAs, which sign the proxies' certificates.
    pub cas: Arc<crate::cas::ZoneCas>,
    /// Stores registrations in batches (group commit).
    pub registrations: crate::registrations::Registrations,
    /// The proxies' configurations, computed by one task for the whole zone.
    pub configs: Arc<crate::configs::Configs>,
    next_id: Arc<AtomicU64>,
}

type ConfigStream = Pin<Box<dyn Stream<Item = Result<ZoneToDataplane, Status>> + Send>>;

impl DataplaneService {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        zone: String,
        store: ZoneStore,
        state: Arc<ZoneState>,
        local_changes: Arc<watch::Sender<u64>>,
        telemetry: Arc<crate::telemetry::Telemetry>,
        grace: Duration,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        let store_for_cas = store.clone();
        let registrations = crate::registrations::Registrations::start(
            store.clone(),
            state.clone(),
            local_changes.clone(),
        );
        DataplaneService {
            zone,
            store,
            state,
            local_changes,
            telemetry,
            sessions: Arc::default(),
            grace,
            metrics,
            shutdown,
            health: Arc::default(),
            credentials: Arc::default(),
            allow_loopback: false,
            cas: Arc::new(crate::cas::ZoneCas::empty(store_for_cas)),
            configs: Arc::default(),
            registrations,
            next_id: Arc::new(AtomicU64::new(1)),
        }
    }

    pub fn into_server(self) -> DataplaneDiscoveryServer<DataplaneService> {
        DataplaneDiscoveryServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }

    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<Key, SessionInfo>> {
        self.sessions
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Validates the hello and its token, and returns the Dataplane, stamped with this zone.
    fn admit(&self, hello: &DataplaneHello, token: &str) -> Result<Resource, Error> {
        let value = serde_json::from_str(&hello.manifest_json).map_err(|error| {
            Error::Invalid(ValidationErrors::single(
                "",
                format!("manifest is not JSON: {error}"),
            ))
        })?;
        let resource = Resource::from_value(value, Author::User).map_err(Error::Invalid)?;
        self.admit_resource(resource, token)
    }

    /// Checks a Dataplane (from a proxy's hello or a proxyless application's xDS node) and its
    /// token, and returns it stamped with this zone.
    pub(crate) fn admit_resource(
        &self,
        mut resource: Resource,
        token: &str,
    ) -> Result<Resource, Error> {
        if resource.kind() != Kind::Dataplane {
            return Err(Error::Invalid(ValidationErrors::single(
                "kind",
                "must be Dataplane",
            )));
        }
        resource
            .metadata
            .labels
            .insert(ZONE_LABEL.to_string(), self.zone.clone());
        resource.metadata.resource_version = None;
        let mesh = resource.mesh().unwrap_or_default().to_string();
        self.authorize(&resource, &mesh, token)?;
        let snapshot = self.state.current();
        let Some(state) = snapshot.meshes.get(&mesh).filter(|state| state.exists()) else {
            return Err(Error::Rejected(format!(
                "mesh {mesh:?} does not exist; create it through the global API first"
            )));
        };
        if state
            .dataplanes
            .get(resource.name())
            .is_some_and(|entry| !entry.local)
        {
            let owner = state.dataplanes[resource.name()]
                .resource
                .metadata
                .labels
                .get(ZONE_LABEL)
                .cloned();
            return Err(Error::Rejected(format!(
                "dataplane name {:?} is already registered in mesh {mesh:?} by zone {}",
                resource.name(),
                owner.unwrap_or_else(|| "another zone".into())
            )));
        }
        Ok(resource)
    }

    /// The token allows this Dataplane: same mesh, every inbound of the token's service and
    /// tags, no name taken by a proxy of another service, an address peers can reach.
    fn authorize(&self, resource: &Resource, mesh: &str, token: &str) -> Result<(), Error> {
        let verifier = self.credentials.verifier();
        if verifier.is_empty() {
            return Err(Error::Rejected(
                "the zone has no token keys from global yet (it gets them when it first connects to global)".into(),
            ));
        }
        let claims = verifier.dataplane(token).map_err(|problem| {
            Error::Unauthenticated(format!(
                "dataplane token refused: {problem}; create one with POST /api/v1/meshes/{mesh}/dataplane-tokens and pass it with --dataplane-token-file"
            ))
        })?;
        if claims.mesh != mesh {
            return Err(Error::Forbidden(format!(
                "the dataplane token is for mesh {:?}, not {mesh:?}",
                claims.mesh
            )));
        }
        let Spec::Dataplane(spec) = &resource.spec else {
            return Err(Error::Rejected("not a Dataplane".into()));
        };
        for inbound in &spec.networking.inbound {
            let service = inbound.tags.get(SERVICE_TAG).map_or("", String::as_str);
            if service != claims.sub {
                return Err(Error::Forbidden(format!(
                    "the dataplane token is for service {:?}; it cannot register an inbound of service {service:?}",
                    claims.sub
                )));
            }
            if let Some((tag, value)) = claims
                .tags
                .iter()
                .find(|(tag, value)| inbound.tags.get(*tag) != Some(*value))
            {
                return Err(Error::Forbidden(format!(
                    "the dataplane token needs tag {tag}={value} on every inbound"
                )));
            }
        }
        let snapshot = self.state.current();
        if let Some(existing) = snapshot
            .meshes
            .get(mesh)
            .and_then(|state| state.dataplanes.get(resource.name()))
            && let Spec::Dataplane(existing) = &existing.resource.spec
            && existing.services().any(|service| service != claims.sub)
        {
            return Err(Error::Forbidden(format!(
                "dataplane name {:?} belongs to a proxy of another service",
                resource.name()
            )));
        }
        if !self.allow_loopback
            && let Ok(address) = spec.networking.address.parse::<std::net::IpAddr>()
            && local_only(address)
        {
            return Err(Error::Forbidden(format!(
                "dataplane address {address} is loopback, unspecified, link-local or multicast; run the zone with --allow-loopback-dataplanes to accept it"
            )));
        }
        Ok(())
    }

    pub(crate) async fn register(&self, resource: &Resource) -> Result<(), Error> {
        self.registrations.register(resource.clone()).await
    }

    /// Removes a proxy's registration, unless a newer session took it over.
    async fn deregister(&self, key: &Key, session_id: u64) {
        {
            let mut sessions = self.sessions();
            match sessions.get(key) {
                Some(info) if info.id == session_id && !info.connected => {
                    sessions.remove(key);
                }
                _ => return,
            }
        }
        self.health.forget(&key.0, &key.1);
        match self.store.delete_local(&key.0, &key.1).await {
            Ok(Some(_)) => {
                self.state.delete_local(&key.0, &key.1);
                self.local_changes.send_modify(|tick| *tick += 1);
                tracing::info!(mesh = %key.0, dataplane = %key.1, "dataplane deregistered");
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(mesh = %key.0, dataplane = %key.1, %error, "deregistering failed")
            }
        }
    }

    /// Deregisters `key` after the grace period unless a proxy reconnected meanwhile.
    pub fn schedule_expiry(&self, key: Key, session_id: u64) {
        let service = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(service.grace).await;
            service.deregister(&key, session_id).await;
        });
    }

    /// Registrations loaded from the store wait for their proxies like disconnected sessions do.
    pub fn expect_reconnects(&self, loaded: Vec<Key>) {
        for key in loaded {
            let id = self.next_id.fetch_add(1, Ordering::SeqCst);
            self.sessions().insert(
                key.clone(),
                SessionInfo {
                    id,
                    ..SessionInfo::default()
                },
            );
            self.schedule_expiry(key, id);
        }
    }

    async fn run_session(
        self,
        key: Key,
        session_id: u64,
        services: Vec<String>,
        mut inbound: Streaming<DataplaneMessage>,
        sender: mpsc::Sender<Result<ZoneToDataplane, Status>>,
        superseded: Arc<tokio::sync::Notify>,
    ) {
        let mut updates = self.configs.subscribe(&key);
        let mut trust_changes = self.cas.subscribe_trust();
        // The trust generation this proxy was last asked to renew for, and when. A proxy that
        // reconnects may hold certificates of an older trust: unless it asks for new ones
        // itself, it is asked once, a little after it connects.
        let mut asked: Option<(u64, tokio::time::Instant)> = None;
        let first_ask = tokio::time::Instant::now() + RENEW_AGAIN;
        let mut asked_once = false;
        let mut shutdown = self.shutdown.clone();
        let mut goodbye = false;
        // The slot's newest value is to be sent: at the start, then whenever it changes.
        let mut deliver = true;
        loop {
            if std::mem::take(&mut deliver) {
                let update = updates.borrow_and_update().clone();
                match update.as_deref() {
                    Some(crate::configs::Update::Config(encoded)) => {
                        let version = encoded.version;
                        let update = ZoneToDataplane {
                            message: Some(zone_to_dataplane::Message::Config(ProxyConfigUpdate {
                                version,
                                config_json: encoded.json(),
                            })),
                        };
                        if sender.send(Ok(update)).await.is_err() {
                            break;
                        }
                        self.metrics.config_pushes.inc();
                        if let Some(info) = self
                            .sessions()
                            .get_mut(&key)
                            .filter(|info| info.id == session_id)
                        {
                            info.config_version = version;
                        }
                    }
                    Some(crate::configs::Update::MeshDeleted) => {
                        let _ = sender
                            .send(Err(Status::failed_precondition(format!(
                                "mesh {:?} was deleted",
                                key.0
                            ))))
                            .await;
                        break;
                    }
                    None => {}
                }
            }
            // While the mesh's CA rotates, every proxy renews at every step (asked again
            // every few seconds until it has).
            let renew_at = match self.cas.current_generation(&key.0) {
                Some(generation) if !self.cas.holds(&key.0, &key.1, session_id, generation) => {
                    match asked {
                        Some((for_generation, at)) if for_generation == generation => {
                            self.cas.rotating(&key.0).then_some(at + RENEW_AGAIN)
                        }
                        _ if self.cas.rotating(&key.0) => Some(tokio::time::Instant::now()),
                        _ => (!asked_once).then_some(first_ask),
                    }
                }
                _ => None,
            };
            if let Some(at) = renew_at
                && at <= tokio::time::Instant::now()
            {
                let renew = ZoneToDataplane {
                    message: Some(zone_to_dataplane::Message::Renew(
                        weft_api::proto::RenewCertificates {},
                    )),
                };
                if sender.send(Ok(renew)).await.is_err() {
                    break;
                }
                asked = self
                    .cas
                    .current_generation(&key.0)
                    .map(|generation| (generation, tokio::time::Instant::now()));
                asked_once = true;
                continue;
            }
            tokio::select! {
                changed = updates.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    deliver = true;
                }
                _ = superseded.notified() => {
                    let _ = sender
                        .send(Err(Status::aborted(
                            "a newer session of this dataplane took over",
                        )))
                        .await;
                    break;
                }
                _ = trust_changes.changed() => {}
                _ = sleep_until(renew_at), if renew_at.is_some() => {}
                message = inbound.message() => {
                    match message {
                        Ok(Some(DataplaneMessage { message: Some(dataplane_message::Message::CertificateRequest(request)) })) => {
                            let answer = self.issue_certificate(&key, session_id, &request);
                            let reply = ZoneToDataplane {
                                message: Some(zone_to_dataplane::Message::Certificate(answer)),
                            };
                            if sender.send(Ok(reply)).await.is_err() {
                                break;
                            }
                        }
                        Ok(Some(message)) => {
                            if self.handle(&key, session_id, &services, message) {
                                goodbye = true;
                                break;
                            }
                        }
                        Ok(None) | Err(_) => break,
                    }
                }
                _ = weft_runtime::stopped(&mut shutdown) => {
                    let _ = sender.send(Err(Status::unavailable("zone control plane is shutting down"))).await;
                    break;
                }
            }
        }
        self.cas.session_ended(&key.0, &key.1, session_id);
        self.close_session(key, session_id, goodbye).await;
    }

    /// Records a new session of proxy `key`, ending the one it replaces: its id, and what
    /// tells the session that a newer one took over.
    pub(crate) fn open_session(&self, key: &Key) -> (u64, Arc<tokio::sync::Notify>) {
        let session_id = self.next_id.fetch_add(1, Ordering::SeqCst);
        let superseded = Arc::new(tokio::sync::Notify::new());
        let previous = self.sessions().insert(
            key.clone(),
            SessionInfo {
                id: session_id,
                connected: true,
                superseded: Some(superseded.clone()),
                ..SessionInfo::default()
            },
        );
        if let Some(stop) = previous.and_then(|info| info.superseded) {
            stop.notify_one();
        }
        self.metrics.dataplanes_connected.inc();
        (session_id, superseded)
    }

    /// Changes the session's record, unless a newer session took over.
    pub(crate) fn update_session(
        &self,
        key: &Key,
        session_id: u64,
        change: impl FnOnce(&mut SessionInfo),
    ) {
        if let Some(info) = self
            .sessions()
            .get_mut(key)
            .filter(|info| info.id == session_id)
        {
            change(info);
        }
    }

    /// A session ended: the proxy is deregistered at once after a goodbye, else after the
    /// grace period unless it returns.
    pub(crate) async fn close_session(&self, key: Key, session_id: u64, goodbye: bool) {
        self.metrics.dataplanes_connected.dec();
        let current = {
            let mut sessions = self.sessions();
            match sessions.get_mut(&key).filter(|info| info.id == session_id) {
                Some(info) => {
                    info.connected = false;
                    true
                }
                None => false,
            }
        };
        if !current || *self.shutdown.borrow() {
            return;
        }
        if goodbye {
            self.deregister(&key, session_id).await;
        } else {
            tracing::info!(mesh = %key.0, dataplane = %key.1, grace = ?self.grace, "dataplane disconnected; waiting for it to return");
            self.schedule_expiry(key, session_id);
        }
    }

    /// A certificate for one of the proxy's own services, signed by the zone's intermediate
    /// CA of the mesh, with the mesh's certificate lifetime.
    fn issue_certificate(
        &self,
        key: &Key,
        session_id: u64,
        request: &CertificateRequest,
    ) -> Certificate {
        let refuse = |error: String| {
            tracing::warn!(mesh = %key.0, dataplane = %key.1, service = %request.service, %error, "certificate refused");
            Certificate {
                service: request.service.clone(),
                error,
                ..Default::default()
            }
        };
        if request.csr_pem.len() > 16 * 1024 {
            return refuse("the CSR is too large".into());
        }
        let snapshot = self.state.current();
        let Some(mesh) = snapshot.meshes.get(&key.0) else {
            return refuse(format!("mesh {:?} is unknown", key.0));
        };
        let serves = mesh
            .dataplanes
            .get(&key.1)
            .is_some_and(|entry| match &entry.resource.spec {
                Spec::Dataplane(spec) => spec.services().any(|service| service == request.service),
                _ => false,
            });
        if !serves {
            return refuse(format!(
                "this proxy has no inbound of service {:?}",
                request.service
            ));
        }
        let Some(zone_ca) = self.cas.get(&key.0) else {
            return refuse("the zone has no CA for this mesh yet (it asks global for one)".into());
        };
        let lifetime = mesh.certificate_lifetime();
        let spiffe = weft_identity::ca::spiffe_id(&key.0, &request.service);
        let generation = self.cas.current_generation(&key.0).unwrap_or(0);
        let bundle = self
            .cas
            .bundle(&key.0)
            .unwrap_or_else(|| zone_ca.trust_bundle_pem.clone());
        match zone_ca
            .authority
            .sign_leaf(&request.csr_pem, &spiffe, lifetime)
        {
            Ok(leaf) => {
                tracing::info!(mesh = %key.0, dataplane = %key.1, identity = %spiffe, generation, "certificate issued");
                let expires = jiff::Timestamp::now()
                    .as_second()
                    .saturating_add(i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX));
                if let Some(info) = self
                    .sessions()
                    .get_mut(key)
                    .filter(|info| info.id == session_id)
                {
                    info.certificate_expires = Some(expires);
                }
                self.cas.certificate_issued(
                    &key.0,
                    &key.1,
                    session_id,
                    &request.service,
                    generation,
                );
                Certificate {
                    service: request.service.clone(),
                    certificate_chain_pem: format!("{leaf}{}", zone_ca.certificate_pem),
                    trust_bundle_pem: bundle,
                    error: String::new(),
                }
            }
            Err(error) => refuse(format!("the CSR cannot be signed: {error}")),
        }
    }

    /// Handles one message from a proxy; returns true on goodbye.
    fn handle(
        &self,
        key: &Key,
        session_id: u64,
        services: &[String],
        message: DataplaneMessage,
    ) -> bool {
        match message.message {
            Some(dataplane_message::Message::Ack(ack)) => {
                if let Some(info) = self
                    .sessions()
                    .get_mut(key)
                    .filter(|info| info.id == session_id)
                {
                    if ack.accepted {
                        info.acked_version = ack.version;
                        info.last_rejection = None;
                    } else {
                        info.last_rejection = Some(ack.error.chars().take(1024).collect());
                    }
                }
                if !ack.accepted {
                    self.metrics.config_rejections.inc();
                    tracing::warn!(mesh = %key.0, dataplane = %key.1, version = ack.version, reason = %ack.error, "proxy rejected config");
                }
                false
            }
            Some(dataplane_message::Message::Telemetry(report)) => {
                // A proxy reports for its own mesh only.
                let dropped = self.telemetry.add(&key.0, services, &report);
                if dropped > 0 {
                    self.metrics.telemetry_dropped.inc_by(dropped);
                }
                false
            }
            Some(dataplane_message::Message::Health(report)) => {
                self.health.report(&key.0, &key.1, &report.endpoints);
                false
            }
            Some(dataplane_message::Message::Goodbye(_)) => true,
            Some(dataplane_message::Message::Hello(_))
            | Some(dataplane_message::Message::CertificateRequest(_))
            | None => false,
        }
    }
}

#[tonic::async_trait]
impl DataplaneDiscovery for DataplaneService {
    type SessionStream = ConfigStream;

    async fn session(
        &self,
        request: Request<Streaming<DataplaneMessage>>,
    ) -> Result<Response<ConfigStream>, Status> {
        let token = weft_runtime::grpc::bearer_token(&request);
        let mut inbound = request.into_inner();
        let hello = match inbound.message().await? {
            Some(DataplaneMessage {
                message: Some(dataplane_message::Message::Hello(hello)),
            }) => hello,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be DataplaneHello",
                ));
            }
        };
        let resource = self.admit(&hello, &token).map_err(|error| {
            tracing::warn!(%error, "dataplane refused");
            Status::from(error)
        })?;
        let key: Key = (
            resource.mesh().unwrap_or_default().to_string(),
            resource.name().to_string(),
        );
        self.register(&resource).await.map_err(Status::from)?;
        let (session_id, superseded) = self.open_session(&key);
        let services: Vec<String> = match &resource.spec {
            Spec::Dataplane(spec) => spec.services().map(str::to_string).collect(),
            _ => Vec::new(),
        };
        self.cas
            .session_started(&key.0, &key.1, session_id, services.clone());
        tracing::info!(mesh = %key.0, dataplane = %key.1, proxy_version = %hello.version, "dataplane connected");
        let (sender, receiver) = mpsc::channel(4);
        tokio::spawn(
            self.clone()
                .run_session(key, session_id, services, inbound, sender, superseded),
        );
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// Addresses only this machine (or this link) can reach: never a service endpoint for peers.
fn local_only(address: std::net::IpAddr) -> bool {
    match address {
        std::net::IpAddr::V4(v4) => {
            v4.is_loopback()
                || v4.is_unspecified()
                || v4.is_link_local()
                || v4.is_multicast()
                || v4.is_broadcast()
        }
        std::net::IpAddr::V6(v6) => {
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| local_only(std::net::IpAddr::V4(v4)))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::local_only;

    #[test]
    fn local_only_addresses_are_recognised() {
        for address in [
            "127.0.0.1",
            "0.0.0.0",
            "169.254.169.254",
            "224.0.0.1",
            "::1",
            "::",
            "fe80::1",
            "ff02::1",
            "::ffff:127.0.0.1",
        ] {
            assert!(local_only(address.parse().unwrap()), "{address}");
        }
        for address in ["10.0.0.7", "192.168.1.20", "2001:db8::1"] {
            assert!(!local_only(address.parse().unwrap()), "{address}");
        }
    }
}
