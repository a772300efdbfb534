//! Zone federation (gRPC, port 5685): each zone holds one `Sync` stream.
//!
//! Global → zone: a snapshot or everything after the zone's revision, then every change as it
//! is committed (meshes, policies, other zones' dataplanes). Zone → global: the zone's own
//! dataplanes from global's last known zone revision, and telemetry.

mod inbound;
mod outbound;

use std::pin::Pin;
use std::sync::Arc;

use futures::Stream;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use weft_api::proto::zone_message::Message as ZoneMessageKind;
use weft_api::proto::zone_sync_server::ZoneSync;
use weft_api::proto::{GlobalHello, GlobalMessage, ZoneMessage, global_message};
use weft_model::name::Name;

use crate::auth::Authority;
use crate::metrics::Metrics;
use crate::replicas::Replica;
use crate::store::Store;
use crate::traffic::TrafficWindow;

pub use weft_api::proto::zone_sync_server::ZoneSyncServer;

use weft_api::sync::MAX_MESSAGE_BYTES;

#[derive(Clone)]
pub struct SyncService {
    store: Store,
    authority: Arc<Authority>,
    cas: Arc<crate::ca::MeshCas>,
    traffic: Arc<TrafficWindow>,
    metrics: Arc<Metrics>,
    shutdown: watch::Receiver<bool>,
    /// This replica and the zone streams it holds.
    replica: Replica,
}

impl SyncService {
    pub fn new(
        store: Store,
        authority: Arc<Authority>,
        cas: Arc<crate::ca::MeshCas>,
        traffic: Arc<TrafficWindow>,
        metrics: Arc<Metrics>,
        shutdown: watch::Receiver<bool>,
        replica: Replica,
    ) -> Self {
        SyncService {
            store,
            authority,
            cas,
            traffic,
            metrics,
            shutdown,
            replica,
        }
    }

    pub fn into_server(self) -> ZoneSyncServer<SyncService> {
        ZoneSyncServer::new(self)
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES)
    }
}

type GlobalStream = Pin<Box<dyn Stream<Item = Result<GlobalMessage, Status>> + Send>>;

#[tonic::async_trait]
impl ZoneSync for SyncService {
    type SyncStream = GlobalStream;

    async fn sync(
        &self,
        request: Request<Streaming<ZoneMessage>>,
    ) -> Result<Response<GlobalStream>, Status> {
        // The zone token, checked once the hello names the zone.
        let token = weft_runtime::grpc::bearer_token(&request);
        let mut stream = request.into_inner();
        let hello = match stream.message().await? {
            Some(ZoneMessage {
                message: Some(ZoneMessageKind::Hello(hello)),
            }) => hello,
            _ => {
                return Err(Status::invalid_argument(
                    "the first message must be ZoneHello",
                ));
            }
        };
        let zone = Name::parse(&hello.zone)
            .map_err(|problem| {
                Status::invalid_argument(format!("invalid zone name {:?}: {problem}", hello.zone))
            })?
            .to_string();
        let revoked = self.store.revoked_token_ids().await.map_err(Status::from)?;
        if let Err(problem) = self.authority.verifier(revoked).zone(&token, &zone) {
            tracing::warn!(zone = %zone, %problem, "zone refused");
            return Err(Status::unauthenticated(format!(
                "zone {zone:?} refused: {problem}; create a token with POST /api/v1/zones/{zone}/token and pass it with --zone-token-file"
            )));
        }
        if hello.zone_store_id.is_empty() || hello.zone_store_id.len() > 64 {
            return Err(Status::invalid_argument(
                "zone_store_id must be 1 to 64 characters",
            ));
        }
        if !self
            .store
            .register_zone(&zone)
            .await
            .map_err(Status::from)?
        {
            return Err(Status::permission_denied(format!(
                "zone {zone:?} is disabled; enable it with spec.enabled: true (PUT /api/v1/zones/{zone})"
            )));
        }
        let zone_revision = self
            .store
            .zone_connected(
                &zone,
                &hello.version,
                &hello.zone_store_id,
                &self.replica.id,
            )
            .await
            .map_err(Status::from)?;
        let generation = self.replica.held.connected(&zone);
        self.metrics.zones_connected.inc();
        tracing::info!(zone = %zone, version = %hello.version, zone_revision, global_revision = hello.global_revision, "zone connected");

        let (sender, receiver) = mpsc::channel::<Result<GlobalMessage, Status>>(8);
        let greeting = GlobalMessage {
            message: Some(global_message::Message::Hello(GlobalHello {
                global_store_id: self.store.store_id().to_string(),
                zone_revision,
            })),
        };
        sender
            .send(Ok(greeting))
            .await
            .map_err(|_| Status::cancelled("zone went away"))?;

        let resume = (hello.global_store_id == self.store.store_id() && hello.global_revision > 0)
            .then_some(hello.global_revision);
        tokio::spawn(outbound::send_credentials(
            self.store.clone(),
            self.authority.clone(),
            sender.clone(),
            self.shutdown.clone(),
        ));
        tokio::spawn(outbound::send_trust(
            self.cas.clone(),
            sender.clone(),
            self.shutdown.clone(),
        ));
        tokio::spawn(outbound::send_changes(
            outbound::Feed {
                store: self.store.clone(),
                zone: zone.clone(),
                metrics: self.metrics.clone(),
            },
            resume,
            sender.clone(),
            self.shutdown.clone(),
        ));
        let service = self.clone();
        tokio::spawn(async move {
            inbound::receive(
                &service.store,
                &service.traffic,
                &service.metrics,
                &service.cas,
                &sender,
                &zone,
                stream,
            )
            .await;
            service.disconnected(&zone, generation).await;
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

impl SyncService {
    async fn disconnected(&self, zone: &str, generation: u64) {
        self.metrics.zones_connected.dec();
        if self.replica.held.disconnected(zone, generation) {
            self.cas.forget_zone(zone);
            self.traffic.insights.forget(zone);
            if let Err(error) = self.store.zone_disconnected(zone, &self.replica.id).await {
                tracing::warn!(zone, %error, "could not mark zone offline");
            }
            if let Err(error) = self.store.delete_zone_reports(zone, &self.replica.id).await {
                tracing::warn!(zone, %error, "could not forget the zone's shared reports");
            }
            tracing::info!(zone, "zone disconnected");
        }
    }
}
