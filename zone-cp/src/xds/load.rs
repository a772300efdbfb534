//! Load reports (LRS, on the same port): a proxyless application reports, per cluster and
//! locality, the calls it completed and failed since its last report. The zone adds them to
//! its telemetry as edges from the application's service to the cluster's service and version,
//! like a weft-dp proxy's reports, so the application shows in global's graph.

use std::pin::Pin;
use std::time::Duration;

use envoy_types::pb::envoy::config::endpoint::v3::ClusterStats;
use envoy_types::pb::envoy::service::load_stats::v3::load_reporting_service_server::{
    LoadReportingService, LoadReportingServiceServer,
};
use envoy_types::pb::envoy::service::load_stats::v3::{LoadStatsRequest, LoadStatsResponse};
use futures::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status, Streaming};
use weft_api::proto::{EdgeStats, TelemetryReport};
use weft_model::dataplane::VERSION_TAG;

use super::clusters::parse_cluster_name;
use super::duration;
use super::node::Applicant;
use crate::dataplanes::DataplaneService;

/// How often applications report.
const INTERVAL: Duration = Duration::from_secs(1);
/// Most clusters one report may name; the rest are dropped and counted.
const MAX_CLUSTERS: usize = 1_024;

#[derive(Clone)]
pub struct LoadService {
    pub dataplanes: DataplaneService,
}

impl LoadService {
    pub fn into_server(self) -> LoadReportingServiceServer<LoadService> {
        LoadReportingServiceServer::new(self)
            .max_decoding_message_size(weft_api::sync::MAX_MESSAGE_BYTES)
            .max_encoding_message_size(weft_api::sync::MAX_MESSAGE_BYTES)
    }
}

type Responses = Pin<Box<dyn Stream<Item = Result<LoadStatsResponse, Status>> + Send>>;

#[tonic::async_trait]
impl LoadReportingService for LoadService {
    type StreamLoadStatsStream = Responses;

    async fn stream_load_stats(
        &self,
        request: Request<Streaming<LoadStatsRequest>>,
    ) -> Result<Response<Responses>, Status> {
        let header_token = weft_runtime::grpc::bearer_token(&request);
        let peer = request.remote_addr().map(|address| address.ip());
        let mut inbound = request.into_inner();
        let first = inbound
            .message()
            .await?
            .ok_or_else(|| Status::invalid_argument("the stream ended before its first request"))?;
        let applicant = Applicant::from_node(first.node.as_ref(), peer).map_err(Status::from)?;
        let token = if header_token.is_empty() {
            applicant.token.clone().unwrap_or_default()
        } else {
            header_token
        };
        // The same check as the application's ADS stream: a token of its mesh and service.
        self.dataplanes
            .admit_resource(applicant.dataplane(&[]).map_err(Status::from)?, &token)
            .map_err(|error| {
                tracing::warn!(%error, "load reports refused");
                Status::from(error)
            })?;
        let (sender, receiver) = mpsc::channel(1);
        let answer = LoadStatsResponse {
            send_all_clusters: true,
            load_reporting_interval: Some(duration(INTERVAL)),
            ..LoadStatsResponse::default()
        };
        sender
            .send(Ok(answer))
            .await
            .map_err(|_| Status::cancelled("the stream ended"))?;
        let service = self.dataplanes.clone();
        tokio::spawn(async move {
            let _open = sender;
            let mut shutdown = service.shutdown.clone();
            let mut request = Some(first);
            loop {
                if let Some(report) = request.take() {
                    service.add_load(&applicant, &report.cluster_stats);
                }
                tokio::select! {
                    message = inbound.message() => match message {
                        Ok(Some(report)) => request = Some(report),
                        Ok(None) | Err(_) => break,
                    },
                    _ = weft_runtime::stopped(&mut shutdown) => break,
                }
            }
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(receiver))))
    }
}

impl DataplaneService {
    /// Adds one load report of `applicant` to the zone's telemetry.
    fn add_load(&self, applicant: &Applicant, clusters: &[ClusterStats]) {
        let (service, _) = applicant.identity();
        let report = TelemetryReport {
            mesh: applicant.mesh.clone(),
            edges: edges(applicant, clusters),
        };
        let mut dropped = clusters.len().saturating_sub(MAX_CLUSTERS) as u64;
        if !report.edges.is_empty() {
            dropped += self
                .telemetry
                .add(&applicant.mesh, &[service.to_string()], &report);
        }
        if dropped > 0 {
            self.metrics.telemetry_dropped.inc_by(dropped);
        }
    }
}

/// One edge per cluster with calls: from the application's service and version to the
/// cluster's service and its `version` tag. A call that ended with a non-OK status counts as
/// a gRPC error, as weft-dp counts it.
fn edges(applicant: &Applicant, clusters: &[ClusterStats]) -> Vec<EdgeStats> {
    let (service, version) = applicant.identity();
    clusters
        .iter()
        .take(MAX_CLUSTERS)
        .filter_map(|cluster| {
            let (destination, tags) = parse_cluster_name(&cluster.cluster_name)?;
            let (succeeded, failed) = cluster.upstream_locality_stats.iter().fold(
                (0u64, 0u64),
                |(ok, failed), locality| {
                    (
                        ok.saturating_add(locality.total_successful_requests),
                        failed.saturating_add(locality.total_error_requests),
                    )
                },
            );
            let requests = succeeded.saturating_add(failed);
            (requests > 0).then(|| EdgeStats {
                source_service: service.to_string(),
                source_version: version.unwrap_or_default().to_string(),
                destination_service: destination.to_string(),
                destination_version: tags
                    .iter()
                    .find(|(tag, _)| *tag == VERSION_TAG)
                    .map(|(_, value)| value.to_string())
                    .unwrap_or_default(),
                requests,
                responses_2xx: requests,
                grpc_errors: failed,
                ..EdgeStats::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use envoy_types::pb::envoy::config::endpoint::v3::UpstreamLocalityStats;

    use super::*;

    #[test]
    fn a_load_report_becomes_edges_from_the_application() {
        let applicant = Applicant {
            name: "search-1".into(),
            mesh: "shop".into(),
            address: "10.0.0.9".into(),
            port: 0,
            tags: BTreeMap::from([
                ("service".to_string(), "search".to_string()),
                ("version".to_string(), "v3".to_string()),
            ]),
            token: None,
        };
        let locality = |ok, failed| UpstreamLocalityStats {
            total_successful_requests: ok,
            total_error_requests: failed,
            ..UpstreamLocalityStats::default()
        };
        let clusters = [
            ClusterStats {
                cluster_name: "catalog/version=v2".into(),
                upstream_locality_stats: vec![locality(7, 1), locality(2, 0)],
                ..ClusterStats::default()
            },
            ClusterStats {
                cluster_name: "orders".into(),
                upstream_locality_stats: vec![locality(0, 0)],
                ..ClusterStats::default()
            },
        ];
        let edges = edges(&applicant, &clusters);
        assert_eq!(
            edges.len(),
            1,
            "a cluster without calls makes no edge: {edges:?}"
        );
        let edge = &edges[0];
        assert_eq!(
            (
                edge.source_service.as_str(),
                edge.source_version.as_str(),
                edge.destination_service.as_str(),
                edge.destination_version.as_str()
            ),
            ("search", "v3", "catalog", "v2")
        );
        assert_eq!((edge.requests, edge.grpc_errors), (10, 1));
    }
}
