//! gRPC through two proxies: a tonic client and server, unary and server-streaming calls, a
//! Retry on `unavailable`, a Timeout, and gRPC errors counted as failures.

mod support;

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;

use support::*;
use tokio_stream::Stream;
use tonic::{Code, Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use weft_model::dataplane::Protocol;
use weft_model::duration::DurationText;
use weft_model::policy::retry::{Backoff, RetryConf};
use weft_model::policy::timeout::TimeoutConf;

/// The service name in each call says how to answer.
#[derive(Clone, Default)]
struct Scripted {
    flaky_calls: Arc<AtomicUsize>,
}

fn serving() -> HealthCheckResponse {
    HealthCheckResponse {
        status: ServingStatus::Serving as i32,
    }
}

#[tonic::async_trait]
impl Health for Scripted {
    async fn check(
        &self,
        request: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        match request.into_inner().service.as_str() {
            // Unavailable twice, then fine.
            "flaky" if self.flaky_calls.fetch_add(1, SeqCst) < 2 => {
                Err(Status::unavailable("warming up"))
            }
            "broken" => Err(Status::internal("broken on purpose")),
            "slow" => {
                tokio::time::sleep(Duration::from_secs(3)).await;
                Ok(Response::new(serving()))
            }
            _ => Ok(Response::new(serving())),
        }
    }

    type WatchStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        let updates = (0..3).map(|n| {
            Ok(HealthCheckResponse {
                status: if n % 2 == 0 {
                    ServingStatus::Serving
                } else {
                    ServingStatus::NotServing
                } as i32,
            })
        });
        Ok(Response::new(Box::pin(tokio_stream::iter(updates))))
    }
}

async fn grpc_server(scripted: Scripted) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_service(HealthServer::new(scripted))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
            .await
    });
    port
}

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.into(),
    }
}

#[tokio::test]
async fn grpc_calls_retry_time_out_stream_and_count_errors() {
    let scripted = Scripted::default();
    let server = grpc_server(scripted.clone()).await;
    let hops = two_hops(server, Protocol::Grpc, |out| {
        out.retry = Some(RetryConf {
            attempts: Some(3),
            retry_on: Some(vec!["unavailable".into()]),
            backoff: Some(Backoff {
                base: Some(DurationText("1ms".into())),
                max: Some(DurationText("5ms".into())),
            }),
            ..RetryConf::default()
        });
        out.timeout = Some(TimeoutConf {
            request: Some(DurationText("500ms".into())),
            ..TimeoutConf::default()
        });
    })
    .await;
    let channel =
        tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{}", hops.outbound_port))
            .unwrap()
            .connect()
            .await
            .unwrap();
    let mut client = HealthClient::new(channel);

    // Unary, retried on `unavailable` until it succeeds.
    let answer = client
        .check(check("flaky"))
        .await
        .expect("the retries hide the failures");
    assert_eq!(answer.into_inner().status, ServingStatus::Serving as i32);
    assert_eq!(scripted.flaky_calls.load(SeqCst), 3);

    // Server streaming passes every message through.
    let mut stream = client.watch(check("any")).await.unwrap().into_inner();
    let mut statuses = Vec::new();
    while let Some(message) = stream.message().await.unwrap() {
        statuses.push(message.status);
    }
    assert_eq!(statuses.len(), 3);

    // INTERNAL reaches the client as it is and is not retried.
    let error = client.check(check("broken")).await.unwrap_err();
    assert_eq!(error.code(), Code::Internal);
    assert_eq!(error.message(), "broken on purpose");

    // The proxy's timeout is a gRPC status, not an HTTP error.
    let error = client.check(check("slow")).await.unwrap_err();
    assert_eq!(error.code(), Code::DeadlineExceeded, "{error:?}");
    assert!(
        error.message().contains("request timeout of 500ms"),
        "{error:?}"
    );

    let edges = hops.web_telemetry.take();
    let (requests, retries, grpc_errors, failures) = edges
        .iter()
        .filter(|(key, _)| key.destination_service == "catalog")
        .fold((0, 0, 0, 0), |acc, (_, c)| {
            (
                acc.0 + c.requests,
                acc.1 + c.retries,
                acc.2 + c.grpc_errors,
                acc.3 + c.failures(),
            )
        });
    assert_eq!(requests, 4);
    assert_eq!(retries, 2);
    assert_eq!(
        grpc_errors, 2,
        "INTERNAL and the timeout, both with HTTP 200"
    );
    assert_eq!(failures, 2, "gRPC errors are failures of the edge");
}
