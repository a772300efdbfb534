//! Trace: two hops send their spans to an OTLP/gRPC collector, in one trace.

mod support;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::trace::v1::Span;
use support::*;
use weft_model::mesh::MtlsMode;
use weft_model::policy::trace::{Otlp, TraceBackend, TraceConf};

#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<(String, Span)>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut spans = self.spans.lock().unwrap();
        for resource in request.into_inner().resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| r.attributes.iter())
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref())
                .map(|v| format!("{:?}", v.value))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                for span in scope.spans {
                    spans.push((service.clone(), span));
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attribute(span: &Span, key: &str) -> String {
    span.attributes
        .iter()
        .find(|a| a.key == key)
        .and_then(|a| a.value.as_ref())
        .map(|v| format!("{:?}", v.value))
        .unwrap_or_default()
}

#[tokio::test]
async fn both_hops_export_one_trace() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn({
        let collector = collector.clone();
        async move {
            tonic::transport::Server::builder()
                .add_service(TraceServiceServer::new(collector))
                .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener))
                .await
        }
    });
    let trace = TraceConf {
        backend: Some(TraceBackend {
            otlp: Some(Otlp { endpoint }),
        }),
        sampling: Some(100.0),
    };
    let app = App::start("catalog").await;
    // Both proxies trace; the callee names its peer from the caller's certificate.
    let mesh = TestMesh::new("shop");
    let (catalog, _, inbound_port) =
        callee(&mesh, "catalog", app.port, MtlsMode::Permissive, |_| {}).await;
    let (web, _, outbound_port) = caller(&mesh, "web", "catalog", inbound_port).await;
    for proxy in [&web, &catalog] {
        let mut config = proxy.runtime().unwrap().config.clone();
        config.trace = Some(trace.clone());
        proxy.apply(2, config).await.unwrap();
    }
    let answer = Client::default().get(outbound_port, "/items").await;
    assert_eq!(answer.status, 200);
    // The application gets the trace context of the inbound span.
    let traceparent = answer.json()["headers"]["traceparent"]
        .as_str()
        .unwrap()
        .to_string();
    let spans = eventually("both spans arrive", Duration::from_secs(10), || async {
        let spans = collector.spans.lock().unwrap().clone();
        (spans.len() >= 2).then_some(spans)
    })
    .await;
    let client = spans
        .iter()
        .find(|(_, s)| attribute(s, "weft.direction").contains("outbound"))
        .unwrap();
    let server = spans
        .iter()
        .find(|(_, s)| attribute(s, "weft.direction").contains("inbound"))
        .unwrap();
    assert_eq!(
        client.1.trace_id, server.1.trace_id,
        "one trace across both hops"
    );
    assert_eq!(
        server.1.parent_span_id, client.1.span_id,
        "the server span is the client span's child"
    );
    assert!(
        client.0.contains("web") && server.0.contains("catalog"),
        "{} {}",
        client.0,
        server.0
    );
    assert!(attribute(&client.1, "weft.peer").contains("catalog"));
    assert!(attribute(&server.1, "weft.peer").contains("web"));
    assert!(attribute(&server.1, "http.response.status_code").contains("200"));
    let trace_id: String = server
        .1
        .trace_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let span_id: String = server
        .1
        .span_id
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(traceparent, format!("00-{trace_id}-{span_id}-01"));
}
