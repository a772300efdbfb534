//! The zone serves Envoy's Aggregated Discovery Service (state of the world and incremental)
//! on its dataplane gRPC port, so gRPC applications configured over xDS (and Envoy) join a
//! mesh without weft-dp. A client is registered as a proxyless Dataplane ([`node`]), gets the
//! same effective configuration as weft-dp proxies translated into Listeners, Routes, Clusters
//! and ClusterLoadAssignments ([`resources`]), and its acknowledgements and rejections show in
//! its Dataplane's status ([`session`]). docs/xds.md describes what is supported.

pub mod clusters;
pub mod node;
pub mod resources;
pub mod routes;
pub mod session;

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;

use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, config_source::ConfigSourceSpecifier,
};
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse, Resource,
};
use envoy_types::pb::google::protobuf::Any;
use futures::Stream;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::dataplanes::DataplaneService;
use node::Applicant;
use resources::TYPES;
use session::Session;

/// ADS on the zone's dataplane port, sharing the proxies' registrations and configurations.
#[derive(Clone)]
pub struct AdsService {
    pub dataplanes: DataplaneService,
}

impl AdsService {
    pub fn into_server(self) -> AggregatedDiscoveryServiceServer<AdsService> {
        AggregatedDiscoveryServiceServer::new(self)
            .max_decoding_message_size(weft_api::sync::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(weft_api::sync::MAX_MESSAGE_BYTES)
    }
}

/// Resources come over this same stream.
pub(crate) fn ads_source() -> ConfigSource {
    ConfigSource {
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        resource_api_version: ApiVersion::V3 as i32,
        ..ConfigSource::default()
    }
}

pub(crate) fn duration(value: std::time::Duration) -> envoy_types::pb::google::protobuf::Duration {
    envoy_types::pb::google::protobuf::Duration {
        seconds: i64::try_from(value.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(value.subsec_nanos()).unwrap_or(0),
    }
}

/// A policy's duration, when it names a valid one.
pub(crate) fn text_duration(
    text: Option<&weft_model::duration::DurationText>,
) -> Option<envoy_types::pb::google::protobuf::Duration> {
    text.and_then(weft_model::duration::DurationText::get)
        .map(|value| duration(value.as_std()))
}

/// The type URL as one of ours, or None for a type the zone does not serve.
fn served(type_url: &str) -> Option<&'static str> {
    TYPES.iter().copied().find(|served| *served == type_url)
}

type SotwStream = Pin<Box<dyn Stream<Item = Result<DiscoveryResponse, Status>> + Send>>;
type DeltaStream = Pin<Box<dyn Stream<Item = Result<DeltaDiscoveryResponse, Status>> + Send>>;

/// What ends a stream's loop.
enum Next<R> {
    Request(R),
    Update,
    End(Option<Status>),
}

async fn next<R>(
    session: &mut Session,
    inbound: &mut Streaming<R>,
    shutdown: &mut tokio::sync::watch::Receiver<bool>,
) -> Next<R> {
    tokio::select! {
        message = inbound.message() => match message {
            Ok(Some(request)) => Next::Request(request),
            Ok(None) | Err(_) => Next::End(None),
        },
        changed = session.updates.changed() => match changed {
            Ok(()) => Next::Update,
            Err(_) => Next::End(None),
        },
        _ = session.superseded.notified() => {
            Next::End(Some(Status::aborted("a newer session of this dataplane took over")))
        }
        _ = weft_runtime::stopped(shutdown) => {
            Next::End(Some(Status::unavailable("zone control plane is shutting down")))
        }
    }
}

/// Opens the session from the first request's node, or answers why not.
async fn open(
    service: &DataplaneService,
    node: Option<&envoy_types::pb::envoy::config::core::v3::Node>,
    peer: Option<std::net::IpAddr>,
    token: String,
) -> Result<Session, Status> {
    let applicant = Applicant::from_node(node, peer).map_err(Status::from)?;
    Session::start(service.clone(), applicant, token)
        .await
        .map_err(|error| {
            tracing::warn!(%error, "proxyless application refused");
            Status::from(error)
        })
}

#[tonic::async_trait]
impl AggregatedDiscoveryService for AdsService {
    type StreamAggregatedResourcesStream = SotwStream;
    type DeltaAggregatedResourcesStream = DeltaStream;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<SotwStream>, Status> {
        let token = weft_runtime::grpc::bearer_token(&request);
        let peer = request.remote_addr().map(|address| address.ip());
        let mut inbound = request.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the stream ended before its first request"))?;
        let session = open(&self.dataplanes, first.node.as_ref(), peer, token).await?;
        let (sender, receiver) = mpsc::channel(8);
        let shutdown = self.dataplanes.shutdown.clone();
        tokio::spawn(run_sotw(session, first, inbound, sender, shutdown));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<DeltaStream>, Status> {
        let token = weft_runtime::grpc::bearer_token(&request);
        let peer = request.remote_addr().map(|address| address.ip());
        let mut inbound = request.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the stream ended before its first request"))?;
        let session = open(&self.dataplanes, first.node.as_ref(), peer, token).await?;
        let (sender, receiver) = mpsc::channel(8);
        let shutdown = self.dataplanes.shutdown.clone();
        tokio::spawn(run_delta(session, first, inbound, sender, shutdown));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// State of the world: each response holds every subscribed resource of its type.
async fn run_sotw(
    mut session: Session,
    first: DiscoveryRequest,
    mut inbound: Streaming<DiscoveryRequest>,
    sender: mpsc::Sender<Result<DiscoveryResponse, Status>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut pending = Some(first);
    let mut end = None;
    let mut alive = session.take_update();
    while alive {
        let request = match pending.take() {
            Some(request) => Some(request),
            None => match next(&mut session, &mut inbound, &mut shutdown).await {
                Next::Request(request) => Some(request),
                Next::Update => {
                    alive = session.take_update();
                    None
                }
                Next::End(status) => {
                    end = status;
                    break;
                }
            },
        };
        if let Some(request) = request
            && let Err(status) = sotw_request(&mut session, request).await
        {
            end = Some(status);
            break;
        }
        if !alive {
            end = Some(Status::failed_precondition(format!(
                "mesh {:?} was deleted",
                session.key.0
            )));
            break;
        }
        for type_url in TYPES {
            if let Some(response) = sotw_response(&mut session, type_url)
                && sender.send(Ok(response)).await.is_err()
            {
                alive = false;
                break;
            }
        }
    }
    if let Some(status) = end {
        let _ = sender.send(Err(status)).await;
    }
    session.close().await;
}

async fn sotw_request(session: &mut Session, request: DiscoveryRequest) -> Result<(), Status> {
    let Some(type_url) = served(&request.type_url) else {
        tracing::debug!(r#type = %request.type_url, "a type the zone does not serve");
        return Ok(());
    };
    if !request.response_nonce.is_empty() {
        let error = request
            .error_detail
            .as_ref()
            .map(|status| status.message.as_str());
        if !session.answer(type_url, &request.response_nonce, error) {
            return Ok(());
        }
    }
    let names: BTreeSet<String> = request.resource_names.into_iter().collect();
    // A listener or cluster request naming nothing asks for everything (Envoy's wildcard).
    let wildcard = names.is_empty() || names.contains("*");
    let changed = session
        .subscriptions
        .get(type_url)
        .is_none_or(|s| s.names != names || s.wildcard != wildcard);
    if changed {
        session
            .subscribe(type_url, names, wildcard)
            .await
            .map_err(Status::from)?;
        // A new subscription is answered even when its resources were sent before.
        session.force(type_url);
    }
    Ok(())
}

fn sotw_response(session: &mut Session, type_url: &'static str) -> Option<DiscoveryResponse> {
    let version = session.ready_version()?;
    let wanted = session.wanted(type_url)?;
    let sent = session.sent.get(type_url);
    if sent.is_some_and(|sent| sent.resources == wanted) && !session.forced(type_url) {
        return None;
    }
    let nonce = session.nonce();
    let response = DiscoveryResponse {
        version_info: version.to_string(),
        resources: wanted.values().cloned().collect(),
        type_url: type_url.to_string(),
        nonce: nonce.clone(),
        ..DiscoveryResponse::default()
    };
    session.sent(type_url, nonce, version, wanted);
    Some(response)
}

/// Incremental: each response holds the resources that changed and the names removed.
async fn run_delta(
    mut session: Session,
    first: DeltaDiscoveryRequest,
    mut inbound: Streaming<DeltaDiscoveryRequest>,
    sender: mpsc::Sender<Result<DeltaDiscoveryResponse, Status>>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) {
    let mut pending = Some(first);
    let mut end = None;
    let mut alive = session.take_update();
    while alive {
        let request = match pending.take() {
            Some(request) => Some(request),
            None => match next(&mut session, &mut inbound, &mut shutdown).await {
                Next::Request(request) => Some(request),
                Next::Update => {
                    alive = session.take_update();
                    None
                }
                Next::End(status) => {
                    end = status;
                    break;
                }
            },
        };
        if let Some(request) = request
            && let Err(status) = delta_request(&mut session, request).await
        {
            end = Some(status);
            break;
        }
        if !alive {
            end = Some(Status::failed_precondition(format!(
                "mesh {:?} was deleted",
                session.key.0
            )));
            break;
        }
        for type_url in TYPES {
            if let Some(response) = delta_response(&mut session, type_url)
                && sender.send(Ok(response)).await.is_err()
            {
                alive = false;
                break;
            }
        }
    }
    if let Some(status) = end {
        let _ = sender.send(Err(status)).await;
    }
    session.close().await;
}

async fn delta_request(
    session: &mut Session,
    request: DeltaDiscoveryRequest,
) -> Result<(), Status> {
    let Some(type_url) = served(&request.type_url) else {
        tracing::debug!(r#type = %request.type_url, "a type the zone does not serve");
        return Ok(());
    };
    if !request.response_nonce.is_empty() {
        let error = request
            .error_detail
            .as_ref()
            .map(|status| status.message.as_str());
        session.answer(type_url, &request.response_nonce, error);
    }
    let first = !session.subscriptions.contains_key(type_url);
    if !first
        && request.resource_names_subscribe.is_empty()
        && request.resource_names_unsubscribe.is_empty()
    {
        return Ok(());
    }
    let (mut names, mut wildcard) = session
        .subscriptions
        .get(type_url)
        .map(|s| (s.names.clone(), s.wildcard))
        .unwrap_or_default();
    if first && request.resource_names_subscribe.is_empty() {
        wildcard = true;
    }
    for name in request.resource_names_subscribe {
        if name == "*" {
            wildcard = true;
        } else {
            names.insert(name);
        }
    }
    for name in &request.resource_names_unsubscribe {
        if name == "*" {
            wildcard = false;
        } else {
            names.remove(name);
        }
    }
    session
        .subscribe(type_url, names, wildcard)
        .await
        .map_err(Status::from)
}

fn delta_response(session: &mut Session, type_url: &'static str) -> Option<DeltaDiscoveryResponse> {
    let version = session.ready_version()?;
    let wanted = session.wanted(type_url)?;
    let subscription = session.subscriptions.get(type_url)?;
    let empty = BTreeMap::new();
    let before = session
        .sent
        .get(type_url)
        .map_or(&empty, |sent| &sent.resources);
    let changed: Vec<Resource> = wanted
        .iter()
        .filter(|(name, resource)| before.get(*name) != Some(*resource))
        .map(|(name, resource)| Resource {
            name: name.clone(),
            version: resource_version(resource),
            resource: Some(resource.clone()),
            ..Resource::default()
        })
        .collect();
    // Names still subscribed that no longer exist; an unsubscribed name needs no word.
    let removed: Vec<String> = before
        .keys()
        .filter(|name| !wanted.contains_key(*name))
        .filter(|name| subscription.wildcard || subscription.names.contains(*name))
        .cloned()
        .collect();
    let first = !session.sent.contains_key(type_url);
    if changed.is_empty() && removed.is_empty() && !first && !session.forced(type_url) {
        return None;
    }
    let nonce = session.nonce();
    let response = DeltaDiscoveryResponse {
        system_version_info: version.to_string(),
        resources: changed,
        type_url: type_url.to_string(),
        removed_resources: removed,
        nonce: nonce.clone(),
        ..DeltaDiscoveryResponse::default()
    };
    session.sent(type_url, nonce, version, wanted);
    Some(response)
}

/// A resource's version in the incremental protocol: a digest of its encoding.
fn resource_version(resource: &Any) -> String {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    resource.type_url.hash(&mut hasher);
    resource.encode_to_vec().hash(&mut hasher);
    format!("{:016x}", hasher.finish())
}
