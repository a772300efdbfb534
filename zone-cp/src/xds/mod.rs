//! The zone serves Envoy's Aggregated Discovery Service (state of the world and incremental)
//! on its dataplane gRPC port, so gRPC applications configured over xDS (and Envoy) join a
//! mesh without weft-dp. A client is registered as a proxyless Dataplane ([`node`]), gets the
//! same effective configuration as weft-dp proxies translated into Listeners, Routes, Clusters
//! and ClusterLoadAssignments ([`resources`]), and its acknowledgements and rejections show in
//! its Dataplane's status ([`session`]). docs/xds.md describes what is supported.

pub mod clusters;
mod delta;
pub mod load;
pub mod node;
pub mod resources;
pub mod routes;
pub mod session;
mod sotw;

use std::future::Future;
use std::pin::Pin;

use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, Node, config_source::ConfigSourceSpecifier,
};
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::{
    AggregatedDiscoveryService, AggregatedDiscoveryServiceServer,
};
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse, DiscoveryRequest, DiscoveryResponse,
};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};

use crate::dataplanes::DataplaneService;
use delta::Delta;
use node::Applicant;
use resources::TYPES;
use session::Session;
use sotw::Sotw;

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

/// One variant of the protocol: how its requests change a session and what it answers.
trait Variant: 'static {
    type Request: Send + 'static;
    type Response: Send + 'static;

    /// The node the client names itself with (in its first request).
    fn node(request: &Self::Request) -> Option<&Node>;

    /// Acknowledgements, rejections and subscription changes.
    fn request(
        session: &mut Session,
        request: Self::Request,
    ) -> impl Future<Output = Result<(), Status>> + Send;

    /// What to send of `type_url` now, if anything.
    fn response(session: &mut Session, type_url: &'static str) -> Option<Self::Response>;
}

type Responses<R> = Pin<Box<dyn Stream<Item = Result<R, Status>> + Send>>;

/// What ends a wait of the stream's loop.
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

impl AdsService {
    /// Opens the session from the first request's node (or answers why not) and serves the
    /// stream from a task of its own.
    async fn serve<V: Variant>(
        &self,
        request: Request<Streaming<V::Request>>,
    ) -> Result<Response<Responses<V::Response>>, Status> {
        let token = weft_runtime::grpc::bearer_token(&request);
        let peer = request.remote_addr().map(|address| address.ip());
        let mut inbound = request.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the stream ended before its first request"))?;
        let applicant = Applicant::from_node(V::node(&first), peer).map_err(Status::from)?;
        let session = Session::start(self.dataplanes.clone(), applicant, token)
            .await
            .map_err(|error| {
                tracing::warn!(%error, "proxyless application refused");
                Status::from(error)
            })?;
        let (sender, receiver) = mpsc::channel(8);
        let shutdown = self.dataplanes.shutdown.clone();
        tokio::spawn(run::<V>(session, first, inbound, sender, shutdown));
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

/// The stream's loop: a request or a new configuration, then whatever each type has to send.
async fn run<V: Variant>(
    mut session: Session,
    first: V::Request,
    mut inbound: Streaming<V::Request>,
    sender: mpsc::Sender<Result<V::Response, Status>>,
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
            && let Err(status) = V::request(&mut session, request).await
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
            if let Some(response) = V::response(&mut session, type_url)
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

#[tonic::async_trait]
impl AggregatedDiscoveryService for AdsService {
    type StreamAggregatedResourcesStream = Responses<DiscoveryResponse>;
    type DeltaAggregatedResourcesStream = Responses<DeltaDiscoveryResponse>;

    async fn stream_aggregated_resources(
        &self,
        request: Request<Streaming<DiscoveryRequest>>,
    ) -> Result<Response<Responses<DiscoveryResponse>>, Status> {
        self.serve::<Sotw>(request).await
    }

    async fn delta_aggregated_resources(
        &self,
        request: Request<Streaming<DeltaDiscoveryRequest>>,
    ) -> Result<Response<Responses<DeltaDiscoveryResponse>>, Status> {
        self.serve::<Delta>(request).await
    }
}
