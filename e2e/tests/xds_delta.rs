//! The zone's incremental (delta) ADS, spoken directly: a client is refused without a token
//! of its service, gets Listener, RouteConfiguration, Cluster and ClusterLoadAssignment as it
//! subscribes, then only what a change touches (and the removal of what it no longer has), and
//! its NACK shows in the Dataplane's status through global's API. (gRPC's own client speaks
//! state of the world only: `xds.rs` covers that variant with Python grpcio.)

use std::collections::HashMap;
use std::time::Duration;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_client::AggregatedDiscoveryServiceClient;
use envoy_types::pb::envoy::service::discovery::v3::{
    DeltaDiscoveryRequest, DeltaDiscoveryResponse,
};
use envoy_types::pb::google::protobuf::{Struct, Value, value::Kind};
use envoy_types::pb::google::rpc::Status as RpcStatus;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Streaming;
use weft_e2e::topology::{Zone, one_zone};

const MESH: &str = "shop";
const LISTENER: &str = "type.googleapis.com/envoy.config.listener.v3.Listener";
const ROUTE: &str = "type.googleapis.com/envoy.config.route.v3.RouteConfiguration";
const CLUSTER: &str = "type.googleapis.com/envoy.config.cluster.v3.Cluster";
const ENDPOINT: &str = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

fn node(metadata: &[(&str, &str)]) -> Node {
    Node {
        id: "search-1".into(),
        metadata: Some(Struct {
            fields: metadata
                .iter()
                .map(|(key, value)| {
                    (
                        key.to_string(),
                        Value {
                            kind: Some(Kind::StringValue(value.to_string())),
                        },
                    )
                })
                .collect(),
        }),
        ..Node::default()
    }
}

struct Stream {
    sender: mpsc::Sender<DeltaDiscoveryRequest>,
    responses: Streaming<DeltaDiscoveryResponse>,
}

impl Stream {
    async fn open(
        zone: &Zone,
        token: &str,
        first: DeltaDiscoveryRequest,
    ) -> Result<Stream, tonic::Status> {
        let ca = std::fs::read_to_string(zone.upstream().ca_file).unwrap();
        let client =
            weft_runtime::grpc::ControlClient::new(&zone.grpc_url(), "zone", &ca, token).unwrap();
        let channel = client.connect().await.unwrap();
        let (sender, receiver) = mpsc::channel(8);
        sender.send(first).await.unwrap();
        let mut ads = AggregatedDiscoveryServiceClient::new(channel);
        let responses = ads
            .delta_aggregated_resources(client.request(ReceiverStream::new(receiver)))
            .await?
            .into_inner();
        Ok(Stream { sender, responses })
    }

    async fn next(&mut self) -> Result<DeltaDiscoveryResponse, tonic::Status> {
        tokio::time::timeout(Duration::from_secs(30), self.responses.message())
            .await
            .expect("a response within 30 s")?
            .ok_or_else(|| tonic::Status::aborted("the stream ended"))
    }

    async fn send(&self, request: DeltaDiscoveryRequest) {
        self.sender.send(request).await.unwrap();
    }

    /// Acknowledges `response` (or rejects it with `error`).
    async fn answer(&self, response: &DeltaDiscoveryResponse, error: Option<&str>) {
        self.send(DeltaDiscoveryRequest {
            type_url: response.type_url.clone(),
            response_nonce: response.nonce.clone(),
            error_detail: error.map(|message| RpcStatus {
                code: 3,
                message: message.to_string(),
                details: Vec::new(),
            }),
            ..DeltaDiscoveryRequest::default()
        })
        .await;
    }

    /// Subscribes to `names` of `type_url` and returns the answer, acknowledged.
    async fn subscribe(&mut self, type_url: &str, names: &[&str]) -> DeltaDiscoveryResponse {
        self.send(subscription(type_url, names, None)).await;
        let response = self.next().await.unwrap();
        assert_eq!(response.type_url, type_url);
        self.answer(&response, None).await;
        response
    }
}

fn subscription(type_url: &str, names: &[&str], node: Option<Node>) -> DeltaDiscoveryRequest {
    DeltaDiscoveryRequest {
        node,
        type_url: type_url.to_string(),
        resource_names_subscribe: names.iter().map(|name| name.to_string()).collect(),
        ..DeltaDiscoveryRequest::default()
    }
}

fn names(response: &DeltaDiscoveryResponse) -> Vec<&str> {
    response.resources.iter().map(|r| r.name.as_str()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_incremental_client_gets_what_changed_and_its_rejections_show() {
    let work = tempfile::tempdir().unwrap();
    let (global, zone) = one_zone(work.path(), MESH);
    let api = global.api();
    let search_token = api.dataplane_token(MESH, "search");
    let catalog_token = api.dataplane_token(MESH, "catalog");
    let identity = [("weft.dev/mesh", MESH), ("weft.dev/service", "search")];

    // No token, a token of another service, a node without its mesh: refused, saying why.
    let refusals = [
        ("", &identity[..], tonic::Code::Unauthenticated),
        (
            catalog_token.as_str(),
            &identity[..],
            tonic::Code::PermissionDenied,
        ),
        (
            search_token.as_str(),
            &identity[1..],
            tonic::Code::InvalidArgument,
        ),
    ];
    for (token, metadata, code) in refusals {
        let first = subscription(LISTENER, &["catalog"], Some(node(metadata)));
        let refused = match Stream::open(&zone, token, first).await {
            Err(status) => status,
            Ok(mut stream) => stream.next().await.unwrap_err(),
        };
        assert_eq!(refused.code(), code, "{refused:?}");
    }

    // Subscribing one type after the other, as gRPC does.
    let first = subscription(LISTENER, &["catalog"], Some(node(&identity)));
    let mut stream = Stream::open(&zone, &search_token, first).await.unwrap();
    let listeners = stream.next().await.unwrap();
    assert_eq!(names(&listeners), ["catalog"]);
    stream.answer(&listeners, None).await;
    assert_eq!(
        names(&stream.subscribe(ROUTE, &["catalog"]).await),
        ["catalog"]
    );
    assert_eq!(
        names(&stream.subscribe(CLUSTER, &["catalog"]).await),
        ["catalog"]
    );
    assert_eq!(
        names(&stream.subscribe(ENDPOINT, &["catalog"]).await),
        ["catalog"]
    );

    // A split changes the route and replaces the cluster: only those travel.
    api.apply(
        &format!("/api/v1/meshes/{MESH}/trafficroutes/catalog-split"),
        &format!("apiVersion: weft.dev/v1alpha1\nkind: TrafficRoute\nmetadata: {{name: catalog-split, mesh: {MESH}}}\nspec:\n  targetRef: {{kind: Mesh}}\n  to:\n    - targetRef: {{kind: Service, name: catalog}}\n      rules:\n        - backends: [{{service: catalog, tags: {{version: v1}}, weight: 80}}, {{service: catalog, tags: {{version: v2}}, weight: 20}}]\n"),
    );
    let mut seen: HashMap<String, DeltaDiscoveryResponse> = HashMap::new();
    while !(seen.contains_key(ROUTE) && seen.contains_key(CLUSTER) && seen.contains_key(ENDPOINT)) {
        let response = stream.next().await.unwrap();
        assert_ne!(
            response.type_url, LISTENER,
            "the listener did not change: {response:?}"
        );
        seen.insert(response.type_url.clone(), response);
    }
    assert_eq!(names(&seen[ROUTE]), ["catalog"]);
    assert!(
        seen[CLUSTER].resources.is_empty(),
        "catalog/version=v1 is not subscribed yet"
    );
    assert_eq!(seen[CLUSTER].removed_resources, ["catalog"]);
    assert_eq!(seen[ENDPOINT].removed_resources, ["catalog"]);

    // The client rejects the new route: its status says so through global's API.
    stream.answer(&seen[CLUSTER], None).await;
    stream.answer(&seen[ENDPOINT], None).await;
    stream
        .answer(&seen[ROUTE], Some("weighted clusters are not welcome here"))
        .await;
    let status = api.wait_for_dataplane_status(
        MESH,
        "search-1",
        "the rejection to reach global",
        |status| {
            status["rejection"]
                .as_str()
                .is_some_and(|r| r.contains("not welcome"))
        },
    );
    assert!(
        status["rejection"]
            .as_str()
            .unwrap()
            .starts_with("RouteConfiguration version"),
        "{status}"
    );
    // The new clusters arrive once asked for.
    let clusters = stream
        .subscribe(CLUSTER, &["catalog/version=v1", "catalog/version=v2"])
        .await;
    let mut got = names(&clusters);
    got.sort_unstable();
    assert_eq!(got, ["catalog/version=v1", "catalog/version=v2"]);

    // Each change of listener subscriptions registers the application again (a store write):
    // a flood of them ends the stream, saying why.
    for index in 0..25 {
        stream
            .send(subscription(LISTENER, &[&format!("s{index}")], None))
            .await;
    }
    let refused = loop {
        if let Err(status) = stream.next().await {
            break status;
        }
    };
    assert_eq!(
        refused.code(),
        tonic::Code::FailedPrecondition,
        "{refused:?}"
    );
    assert!(
        refused.message().contains("changed more than"),
        "{refused:?}"
    );
}
